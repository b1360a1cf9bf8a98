package api_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/model/elbv2"
)

// formRequest is a signed ELBv2 query request with body as its form.
func formRequest(body string) signed {
	return signed{service: elbSigning, body: body, before: func(r *http.Request) {
		r.Header.Set("Content-Type", api.FormContentType)
	}}
}

const describe = "Action=DescribeLoadBalancers&Version=2015-12-01"

// TestQueryErrorShapes pins the wire form of every error a query service
// answers: status, headers, and the <ErrorResponse> body.
func TestQueryErrorShapes(t *testing.T) {
	srv := newTestServer(t, api.Config{Clock: func() time.Time { return goldenNow }, MaxBodyBytes: 1024})
	big := describe + "&Names.member.1=" + strings.Repeat("x", 2000)
	with := func(s signed, f func(*signed)) signed { f(&s); return s }
	tests := []struct {
		name string
		req  signed
	}{
		// routing
		{"missing_action", formRequest("Version=2015-12-01")},
		{"unknown_action", formRequest("Action=DescribeNothing&Version=2015-12-01")},
		{"unregistered_action", formRequest("Action=DescribeSSLPolicies&Version=2015-12-01")},
		{"missing_version", formRequest("Action=DescribeLoadBalancers")},
		{"wrong_version", formRequest("Action=DescribeLoadBalancers&Version=2012-06-01")},
		{"unknown_service", with(formRequest(describe), func(s *signed) { s.service = "monitoring" })},
		{"malformed_form", formRequest(describe + "&Names.member.1=%zz")},
		{"too_large_body", formRequest(big)},
		{"too_large_chunked_body", with(formRequest(big), func(s *signed) { s.chunked = true })},
		// decoding and validation
		{"wrong_type", formRequest("Action=CreateTargetGroup&Version=2015-12-01&Name=tg&Port=eighty&HealthCheckEnabled=yes")},
		{"scalar_for_list", formRequest("Action=DescribeLoadBalancers&Version=2015-12-01&Names=web")},
		{"missing_required", formRequest("Action=CreateLoadBalancer&Version=2015-12-01&Subnets.member.1=subnet-a")},
		{"constraint", formRequest("Action=CreateTargetGroup&Version=2015-12-01&Name=tg&Port=70000&Protocol=HTTPX")},
		// handlers
		{"modeled_error", formRequest(describe + "&Names.member.1=nope")},
		{"modeled_receiver_error", formRequest("Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=tg")},
		{"mapped_error", formRequest("Action=CreateLoadBalancer&Version=2015-12-01&Name=taken")},
		{"api_error_with_status", formRequest("Action=SetRulePriorities&Version=2015-12-01&RulePriorities=")},
		{"unmapped_error", formRequest("Action=DeleteLoadBalancer&Version=2015-12-01&LoadBalancerArn=arn")},
		{"handler_panic", formRequest("Action=DeleteListener&Version=2015-12-01&ListenerArn=arn")},
		{"disk_full", formRequest("Action=DeleteTargetGroup&Version=2015-12-01&TargetGroupArn=arn")},
		// SigV4
		{"sigv4_missing_authentication", with(formRequest(describe), func(s *signed) {
			s.after = func(r *http.Request) { r.Header.Del("Authorization") }
		})},
		{"sigv4_missing_signature", with(formRequest(describe), func(s *signed) {
			s.after = func(r *http.Request) {
				a := r.Header.Get("Authorization")
				r.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
			}
		})},
		{"sigv4_unknown_access_key", with(formRequest(describe), func(s *signed) { s.akid, s.secret = "AKIDUNKNOWN", secret })},
		{"sigv4_wrong_secret", with(formRequest(describe), func(s *signed) { s.akid, s.secret = akid, "wrong" })},
		{"sigv4_expired", with(formRequest(describe), func(s *signed) { s.at = goldenNow.Add(-15 * time.Minute) })},
		{"sigv4_tampered_body", with(formRequest(describe+"&Names.member.1=a"), func(s *signed) { s.sent = describe + "&Names.member.1=b" })},
		{"sigv4_invalid_region", with(formRequest(describe), func(s *signed) { s.region = "moon" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.at.IsZero() {
				tt.req.at = goldenNow
			}
			resp, body := do(t, newRequest(t, srv.URL, tt.req))
			got := describeXMLResponse(t, resp, body)
			checkGolden(t, filepath.Join("testdata", "query_errors", tt.name+".golden"), got)
		})
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("response differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// xmlError is the query protocol's error document.
type xmlError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

// describeXMLResponse renders a query error response for a golden file,
// checking the invariants every one must hold on the way.
func describeXMLResponse(t *testing.T, resp *http.Response, body []byte) string {
	t.Helper()
	var e xmlError
	if err := xml.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("body %q is not an AWS query error (%v)", body, err)
	}
	id := resp.Header.Get("X-Amzn-Requestid")
	if !requestIDRE.MatchString(id) || e.RequestID != id {
		t.Errorf("x-amzn-RequestId = %q, <RequestId> %q: want the same UUID", id, e.RequestID)
	}
	if ct := resp.Header.Get("Content-Type"); ct != api.XMLContentType {
		t.Errorf("Content-Type = %q", ct)
	}
	if resp.Header.Get("Date") == "" {
		t.Error("no Date header")
	}
	if want := map[bool]string{true: "Receiver", false: "Sender"}[resp.StatusCode >= 500]; e.Error.Type != want {
		t.Errorf("status %d with Type %s, want %s", resp.StatusCode, e.Error.Type, want)
	}
	if (resp.StatusCode == 500) != (e.Error.Code == api.CodeInternalFailure || e.Error.Code == "HealthUnavailable") {
		t.Errorf("status %d with %s", resp.StatusCode, e.Error.Code)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d\n", resp.StatusCode)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := strings.Join(resp.Header[k], ", ")
		if k == "X-Amzn-Requestid" {
			v = "<request-id>"
		}
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	body = []byte(strings.ReplaceAll(string(body), id, "<request-id>"))
	fmt.Fprintf(&b, "\n%s\n", signatureRE.ReplaceAll(body, []byte("Signature=<signature>")))
	return b.String()
}

// TestQuerySuccess checks the success document of the query protocol and
// the ways a request may come: POST with a form (any charset, chunked or
// not), GET with the parameters in the URL.
func TestQuerySuccess(t *testing.T) {
	srv := newTestServer(t, api.Config{})
	lb := `<member><AvailabilityZones><member><LoadBalancerAddresses><member><IpAddress>10.0.0.10</IpAddress></member></LoadBalancerAddresses>` +
		`<SubnetId>subnet-a</SubnetId><ZoneName>us-east-1a</ZoneName></member></AvailabilityZones>` +
		`<CreatedTime>2026-01-01T00:10:00.123Z</CreatedTime><DNSName>taken-1234567890.us-east-1.elb.amazonaws.com</DNSName>` +
		`<IpAddressType>ipv4</IpAddressType><LoadBalancerArn>arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/taken/50dc6c495c0c9188</LoadBalancerArn>` +
		`<LoadBalancerName>taken</LoadBalancerName><Scheme>internet-facing</Scheme><State><Code>provisioning</Code></State><Type>application</Type><VpcId>vpc-1</VpcId></member>`
	describeTaken := `<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">` +
		`<DescribeLoadBalancersResult><LoadBalancers>` + lb + `</LoadBalancers></DescribeLoadBalancersResult>` +
		`<ResponseMetadata><RequestId><request-id></RequestId></ResponseMetadata></DescribeLoadBalancersResponse>`
	tests := []struct {
		name string
		req  *http.Request
		want string
	}{
		{"post", newRequest(t, srv.URL, formRequest(describe+"&Names.member.1=taken&Unknown.member.1=ignored")), describeTaken},
		{"post with charset", newRequest(t, srv.URL, signed{service: elbSigning, body: describe + "&Names.member.1=taken", before: func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		}}), describeTaken},
		{"post chunked", newRequest(t, srv.URL, signed{service: elbSigning, body: describe + "&Names.member.1=taken", chunked: true, before: func(r *http.Request) {
			r.Header.Set("Content-Type", api.FormContentType)
		}}), describeTaken},
		{"get", newGetRequest(t, srv.URL+"/?"+describe+"&Names.member.1=taken"), describeTaken},
		{"empty result", newRequest(t, srv.URL, formRequest("Action=DeleteRule&Version=2015-12-01&RuleArn=r")),
			`<DeleteRuleResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DeleteRuleResult/>` +
				`<ResponseMetadata><RequestId><request-id></RequestId></ResponseMetadata></DeleteRuleResponse>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != api.XMLContentType {
				t.Errorf("Content-Type = %q", ct)
			}
			id := resp.Header.Get("X-Amzn-Requestid")
			if !requestIDRE.MatchString(id) {
				t.Errorf("x-amzn-RequestId = %q", id)
			}
			if got := strings.ReplaceAll(string(body), id, "<request-id>"); got != tt.want {
				t.Errorf("body\n%s\nwant\n%s", got, tt.want)
			}
		})
	}

	// The metrics and logs name the service and the action.
	resp, err := http.Get(srv.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `flotilla_api_requests_total{code="OK",operation="DescribeLoadBalancers",service="elasticloadbalancing"} 4`; !strings.Contains(string(metrics), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if !strings.Contains(srv.Logs.String(), `"service":"elasticloadbalancing","operation":"DeleteRule","status":200`) {
		t.Errorf("no log line of DeleteRule:\n%s", srv.Logs)
	}
}

// newGetRequest returns a GET of url signed with header authentication.
func newGetRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hashHex(nil), elbSigning, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestQueryMetricsLabels checks that made-up actions do not become labels.
func TestQueryMetricsLabels(t *testing.T) {
	srv := newTestServer(t, api.Config{})
	for i := range 3 {
		do(t, newRequest(t, srv.URL, formRequest("Action=Made_Up_"+string(rune('A'+i))+"&Version=2015-12-01")))
	}
	do(t, newRequest(t, srv.URL, formRequest(describe+"&Names.member.1=nope")))
	resp, err := http.Get(srv.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`flotilla_api_requests_total{code="InvalidAction",operation="unknown",service="elasticloadbalancing"} 3`,
		`flotilla_api_requests_total{code="LoadBalancerNotFound",operation="DescribeLoadBalancers",service="elasticloadbalancing"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(b), "Made_Up") {
		t.Error("made-up actions became metric labels")
	}
}

// TestQueryInternalErrorsLogged checks that the causes of InternalFailure
// are logged, at error level, and never sent.
func TestQueryInternalErrorsLogged(t *testing.T) {
	srv := newTestServer(t, api.Config{})
	for _, tt := range []struct{ form, cause string }{
		{"Action=DeleteLoadBalancer&Version=2015-12-01&LoadBalancerArn=a", "state.db is corrupt"},
		{"Action=DeleteListener&Version=2015-12-01&ListenerArn=a", "panic: assignment to entry in nil map"},
	} {
		resp, body := do(t, newRequest(t, srv.URL, formRequest(tt.form)))
		if resp.StatusCode != 500 || strings.Contains(string(body), "corrupt") || strings.Contains(string(body), "nil map") {
			t.Errorf("%s: status %d: %s", tt.form, resp.StatusCode, body)
		}
		if !strings.Contains(srv.Logs.String(), tt.cause) {
			t.Errorf("%s: cause %q not logged", tt.form, tt.cause)
		}
	}
}

func TestHandleQueryPanics(t *testing.T) {
	ok := api.Query(func(context.Context, *elbv2.DeleteRuleInput) (*elbv2.DeleteRuleOutput, error) { return nil, nil })
	tests := []struct {
		name string
		f    func(*api.Server)
	}{
		{"no signing name", func(s *api.Server) { s.HandleQuery(api.QueryService{Version: "1"}) }},
		{"no version", func(s *api.Server) { s.HandleQuery(api.QueryService{SigningName: "x"}) }},
		{"zero operation", func(s *api.Server) {
			s.HandleQuery(api.QueryService{SigningName: "x", Version: "1", Operations: map[string]api.QueryOperation{"Op": {}}})
		}},
		{"twice", func(s *api.Server) {
			s.HandleQuery(api.QueryService{SigningName: "x", Version: "1", Operations: map[string]api.QueryOperation{"Op": ok}})
			s.HandleQuery(api.QueryService{SigningName: "x", Version: "1"})
		}},
		{"input not generated", func(*api.Server) {
			api.Query(func(context.Context, *struct{}) (*elbv2.DeleteRuleOutput, error) { return nil, nil })
		}},
		{"output not generated", func(*api.Server) {
			api.Query(func(context.Context, *elbv2.DeleteRuleInput) (*struct{}, error) { return nil, nil })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f(api.NewServer(api.Config{Credentials: credentials}))
		})
	}
}

// TestQueryDecodesForm checks, without an SDK, the decoding of what only
// hand-written requests send: parameters in the URL of a POST, lists out of
// order, unknown parameters.
func TestQueryDecodesForm(t *testing.T) {
	var got elbv2.CreateRuleInput
	s := api.NewServer(api.Config{Credentials: credentials})
	s.HandleQuery(api.QueryService{
		SigningName: elbSigning,
		Version:     elbv2.APIVersion,
		Operations: map[string]api.QueryOperation{
			"CreateRule": api.Query(func(_ context.Context, in *elbv2.CreateRuleInput) (*elbv2.CreateRuleOutput, error) {
				got = *in
				return nil, nil
			}),
		},
	})
	srv := newServer(t, s)
	form := url.Values{
		"ListenerArn":                         {"l"},
		"Priority":                            {"5"},
		"Conditions.member.2.Field":           {"host-header"},
		"Conditions.member.2.Values.member.1": {"b.example.com"},
		"Conditions.member.1.Field":           {"path-pattern"},
		"Conditions.member.1.Values.member.1": {"/a"},
		"Actions.member.1.Type":               {"forward"},
		"Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn": {"tg"},
		"Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight":         {"3"},
		"Actions.member.1.Unknown":                                            {"x"},
	}
	req := newRequest(t, srv, signed{service: elbSigning, body: form.Encode(), before: func(r *http.Request) {
		r.URL.RawQuery = "Action=CreateRule&Version=2015-12-01"
		r.Header.Set("Content-Type", api.FormContentType)
	}})
	resp, body := do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	want := elbv2.CreateRuleInput{
		ListenerArn: aws.String("l"),
		Priority:    aws.Int32(5),
		Conditions: []elbv2.RuleCondition{
			{Field: aws.String("path-pattern"), Values: []string{"/a"}},
			{Field: aws.String("host-header"), Values: []string{"b.example.com"}},
		},
		Actions: []elbv2.Action{{Type: elbv2.ActionTypeEnumForward, ForwardConfig: &elbv2.ForwardActionConfig{
			TargetGroups: []elbv2.TargetGroupTuple{{TargetGroupArn: aws.String("tg"), Weight: aws.Int32(3)}},
		}}},
	}
	if toJSON(t, got) != toJSON(t, want) {
		t.Errorf("decoded\n%s\nwant\n%s", toJSON(t, got), toJSON(t, want))
	}
}

// newServer serves s on a loopback listener for the test.
func newServer(t *testing.T, s *api.Server) string {
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
