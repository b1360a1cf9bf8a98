package api_test

import (
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/model/elbv2"
)

// FuzzQueryRequest sends signed forms to a query service whose handlers
// never fail as servers fail: every answer must be well-formed XML, a 200 or
// an AWS-shaped 4xx, never a 5xx, never a crash. go test runs the seeds
// below; go test -fuzz FuzzQueryRequest explores further.
func FuzzQueryRequest(f *testing.F) {
	for _, seed := range []string{
		describe + "&Names.member.1=taken",
		describe + "&Names=",
		describe + "&Names=taken",
		describe + "&PageSize=0&Marker=%00",
		"Action=CreateLoadBalancer&Version=2015-12-01&Name=x&Subnets.member.1=a&Tags.member.1.Key=k&Tags.member.1.Value=v",
		"Action=CreateLoadBalancer&Version=2015-12-01&Name=%ff%fe&Subnets.member.2=b&Subnets.member.1=a",
		"Action=CreateRule&Version=2015-12-01&ListenerArn=l&Priority=1&Conditions.member.1.Field=path-pattern&Conditions.member.1.Values.member.1=/a" +
			"&Actions.member.1.Type=forward&Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn=tg&Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight=5" +
			"&Actions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.key=k",
		"Action=CreateTargetGroup&Version=2015-12-01&Name=tg&Port=-1&HealthCheckEnabled=maybe&Matcher=x",
		"Action=DescribeTags&Version=2015-12-01&ResourceArns=",
		"Action=DescribeTags&Version=2015-12-01&ResourceArns.member.99999999999999999999=a",
		"Action=Nope&Version=1",
		"",
		"%zz",
		"a;b=c",
		"Action=DescribeLoadBalancers&Action=CreateRule&Version=2015-12-01&Version=x",
	} {
		f.Add(seed)
	}
	s := api.NewServer(api.Config{Credentials: credentials, Logger: slog.New(slog.DiscardHandler)})
	e := newToyELB()
	s.HandleQuery(api.QueryService{
		SigningName:  elbSigning,
		Version:      elbv2.APIVersion,
		XMLNamespace: elbv2.XMLNamespace,
		Operations: map[string]api.QueryOperation{
			"CreateLoadBalancer":    api.Query(e.CreateLoadBalancer),
			"DescribeLoadBalancers": api.Query(e.DescribeLoadBalancers),
			"DescribeTags":          api.Query(e.DescribeTags),
			"CreateRule":            api.Query(e.CreateRule),
			"CreateTargetGroup":     api.Query(e.CreateTargetGroup),
		},
		MapError: toyELBMapError,
	})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()

	f.Fuzz(func(t *testing.T, body string) {
		resp, b := do(t, newRequest(t, hs.URL, formRequest(body)))
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q: %s", resp.StatusCode, body, b)
		}
		if err := xml.Unmarshal(b, new(struct{})); err != nil {
			t.Fatalf("response to %q is not well-formed XML (%v): %s", body, err, b)
		}
		if resp.StatusCode != http.StatusOK {
			var e xmlError
			if err := xml.Unmarshal(b, &e); err != nil || e.Error.Code == "" || e.Error.Type != "Sender" {
				t.Fatalf("status %d for %q: not an AWS query error: %s", resp.StatusCode, body, b)
			}
		}
	})
}
