package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/sigv4"
)

const (
	instanceKey, instanceSecret = "FLTIEXAMPLE", "instance-secret"
	nodeKey, nodeSecret         = "FLTNEXAMPLE", "node-secret"
	strayKey, straySecret       = "AKIDSTRAY", "stray-secret" // known to the credentials only
	instanceARN                 = "arn:aws:ecs:us-east-1:123456789012:container-instance/default/0123"
)

// newPrincipalServer is the toy services with permissions: Echo for
// instances, DescribeLoadBalancers for nodes, and a raw route for nodes.
func newPrincipalServer(t *testing.T, principals api.Principals) (*httptest.Server, *api.Server) {
	t.Helper()
	s := api.NewServer(api.Config{
		Credentials: sigv4.StaticCredentials{akid: secret, instanceKey: instanceSecret, nodeKey: nodeSecret, strayKey: straySecret},
		Principals:  principals,
		Logger:      slog.New(slog.DiscardHandler),
	})
	toy := toyService(false)
	toy.Permit = map[string]api.PrincipalKind{"Echo": api.Instance}
	s.HandleJSON(toy)
	elb := toyELBService()
	elb.Permit = map[string]api.PrincipalKind{"DescribeLoadBalancers": api.LBNode}
	s.HandleQuery(elb)
	s.HandleAuthenticated("/node/", api.RawRoute{SigningName: elbSigning, Permit: api.LBNode, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := api.CallerPrincipal(r.Context())
		io.WriteString(w, p.Kind.String()+" "+p.ARN)
	})})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return hs, s
}

var testPrincipals = api.StaticPrincipals{
	akid:        {Kind: api.Account, ARN: "arn:aws:iam::123456789012:root"},
	instanceKey: {Kind: api.Instance, ARN: instanceARN},
	nodeKey:     {Kind: api.LBNode},
}

// TestPermissionMatrix calls every registered route with every kind of
// principal: the account may call all of them, the others only what the
// routes grant them, and the refusals are AccessDenied before the handler.
func TestPermissionMatrix(t *testing.T) {
	hs, srv := newPrincipalServer(t, testPrincipals)
	// What each kind may call, written independently of the routes' Permit.
	allowed := map[string]map[string]bool{
		instanceKey: {toyPrefix + ".Echo": true},
		nodeKey:     {"DescribeLoadBalancers": true, "/node/": true},
	}
	keys := [][2]string{{akid, secret}, {instanceKey, instanceSecret}, {nodeKey, nodeSecret}, {strayKey, straySecret}}

	routes := srv.Routes()
	if len(routes) < 10 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, rt := range routes {
		for _, k := range keys {
			t.Run(rt.Name+"/"+k[0], func(t *testing.T) {
				resp, body := callRoute(t, hs.URL, rt, k[0], k[1])
				want := k[0] == akid || allowed[k[0]][rt.Name]
				denied := strings.Contains(string(body), "AccessDenied")
				if denied == want {
					t.Fatalf("%s %s as %s: %d %s, want allowed=%v", rt.Protocol, rt.Name, k[0], resp.StatusCode, body, want)
				}
				if !denied {
					return
				}
				wantStatus := http.StatusBadRequest
				if rt.Protocol != "json" {
					wantStatus = http.StatusForbidden
				}
				if resp.StatusCode != wantStatus {
					t.Errorf("denied with %d, want %d", resp.StatusCode, wantStatus)
				}
				who := k[0]
				if k[0] == instanceKey {
					who = instanceARN
				}
				if !strings.Contains(string(body), "User: "+who+" is not authorized to perform: "+rt.SigningName+":") {
					t.Errorf("message: %s", body)
				}
			})
		}
	}
}

// callRoute sends a signed request to rt.
func callRoute(t *testing.T, url string, rt api.Route, key, sec string) (*http.Response, []byte) {
	t.Helper()
	switch rt.Protocol {
	case "json":
		return do(t, newRequest(t, url, signed{target: rt.Name, body: `{"name":"n"}`, akid: key, secret: sec, service: rt.SigningName}))
	case "query":
		f := formRequest("Action=" + rt.Name + "&Version=2015-12-01")
		f.akid, f.secret = key, sec
		return do(t, newRequest(t, url, f))
	}
	req, err := http.NewRequest(http.MethodGet, url+rt.Name+"x", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := aws.Credentials{AccessKeyID: key, SecretAccessKey: sec}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hashHex(nil), rt.SigningName, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// TestCallerPrincipal checks that handlers see the principal the server
// derived, and that without Principals every key is the account's.
func TestCallerPrincipal(t *testing.T) {
	for _, tt := range []struct {
		name       string
		principals api.Principals
		key, sec   string
		want       string
	}{
		{"node", testPrincipals, nodeKey, nodeSecret, "lb-node "},
		{"account", testPrincipals, akid, secret, "account arn:aws:iam::123456789012:root"},
		{"chain", api.PrincipalChain{api.StaticPrincipals{}, testPrincipals}, nodeKey, nodeSecret, "lb-node "},
		{"no principals", nil, nodeKey, nodeSecret, "account "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs, _ := newPrincipalServer(t, tt.principals)
			resp, body := callRoute(t, hs.URL, api.Route{Protocol: "raw", SigningName: elbSigning, Name: "/node/"}, tt.key, tt.sec)
			if resp.StatusCode != http.StatusOK || string(body) != tt.want {
				t.Errorf("%d %q, want %q", resp.StatusCode, body, tt.want)
			}
		})
	}
}

type brokenPrincipals struct{}

func (brokenPrincipals) Principal(context.Context, string) (api.Principal, error) {
	return api.Principal{}, errors.New("store: closed")
}

// TestPrincipalLookupFailure: a failed lookup is a server error, never a
// pass.
func TestPrincipalLookupFailure(t *testing.T) {
	hs, _ := newPrincipalServer(t, brokenPrincipals{})
	resp, body := do(t, newRequest(t, hs.URL, signed{target: toyPrefix + ".Echo", body: `{"name":"n"}`}))
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "store") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}
