package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/lbnode"
	"github.com/flotilla/flotilla/internal/link"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/store/bolt"
	"github.com/flotilla/flotilla/internal/testport"
)

const testRegion = "us-east-1"

// authFixture is the server's real routes (apiServer) on a loopback
// listener, with two registered container instances, a task on each, and
// every kind of key.
type authFixture struct {
	url              string
	account, node    Credentials
	inst             map[string]Credentials // by instance ARN
	instARN, taskARN [2]string              // instance i's ARN and its task
	srv              *api.Server
	regs             *regions
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	f := &authFixture{inst: map[string]Credentials{}}
	if f.account, _, err = LoadOrCreateCredentials(dir); err != nil {
		t.Fatal(err)
	}
	if f.node, _, err = LoadOrCreateNodeCredentials(dir); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	regs := newRegions(regionsConfig{Store: st, AccountID: "123456789012", DefaultRegion: testRegion, Endpoint: "http://127.0.0.1:1",
		DataDir: dir, GracePeriod: time.Minute, Logger: quiet, Registerer: reg})
	if err := regs.Open(ctx); err != nil {
		t.Fatal(err)
	}
	f.regs = regs
	if f.srv, err = apiServer(ctx, api.Config{Logger: quiet, Registerer: reg}, "123456789012", f.account, f.node, regs); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(f.srv.Handler())
	f.url = hs.URL
	done := make(chan struct{}, 1)
	go func() { regs.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); hs.Close(); <-done; st.Close() })

	// A load balancer, for a configuration the nodes' route serves at once.
	if resp, b := f.call(t, f.account, lbnode.SigningName, http.MethodPost, "/", map[string]string{"Content-Type": api.FormContentType},
		"Action=CreateLoadBalancer&Version=2015-12-01&Name=front"); resp.StatusCode != http.StatusOK {
		t.Fatalf("CreateLoadBalancer: %d %s", resp.StatusCode, b)
	}
	f.mustCall(t, "CreateCluster", `{"clusterName":"default"}`)
	f.mustCall(t, "RegisterTaskDefinition", `{"family":"app","containerDefinitions":[{"name":"app","image":"busybox","memory":64}]}`)
	for i := range 2 {
		var reg struct {
			ContainerInstance struct{ ContainerInstanceArn string } `json:"containerInstance"`
		}
		json.Unmarshal(f.mustCall(t, "RegisterContainerInstance", `{"cluster":"default","totalResources":[`+
			`{"name":"CPU","type":"INTEGER","integerValue":1024},{"name":"MEMORY","type":"INTEGER","integerValue":1024}]}`), &reg)
		f.instARN[i] = reg.ContainerInstance.ContainerInstanceArn
		// Its agent: the link hands it the instance's key.
		f.inst[f.instARN[i]] = f.connect(t, f.instARN[i])
		var started struct {
			Tasks []struct{ TaskArn string } `json:"tasks"`
		}
		// The placer learns of the link through a watch: until it has,
		// the instance fails with AGENT.
		var out []byte
		for deadline := time.Now().Add(30 * time.Second); ; {
			out = f.mustCall(t, "StartTask", fmt.Sprintf(`{"cluster":"default","taskDefinition":"app","containerInstances":[%q]}`, f.instARN[i]))
			json.Unmarshal(out, &started)
			if len(started.Tasks) == 1 || !strings.Contains(string(out), `"reason":"AGENT"`) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(started.Tasks) != 1 {
			t.Fatalf("StartTask on %s: %s", f.instARN[i], out)
		}
		f.taskARN[i] = started.Tasks[0].TaskArn
	}
	return f
}

// call sends a request signed with c for the service's scope.
func (f *authFixture) call(t *testing.T, c Credentials, service, method, path string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	return f.callIn(t, c, testRegion, service, method, path, hdr, body)
}

// callIn sends a request signed with c for the service's scope in region.
func (f *authFixture) callIn(t *testing.T, c Credentials, region, service, method, path string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sum := hashHex(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey},
		req, sum, service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (f *authFixture) mustCall(t *testing.T, op, body string) []byte {
	t.Helper()
	resp, b := f.call(t, f.account, wire.SigningName, http.MethodPost, "/", jsonHeaders(wire.TargetPrefix+"."+op), body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", op, resp.StatusCode, b)
	}
	return []byte(b)
}

func jsonHeaders(target string) map[string]string {
	return map[string]string{"Content-Type": api.JSONContentType, "X-Amz-Target": target}
}

// identity is a key acting on its own instance (0) or on the other (1).
type identity struct {
	name   string
	kind   api.PrincipalKind
	key    Credentials
	target int // the instance whose resources the request names
}

// request returns the request that exercises rt for id: for the agents'
// routes one naming id.target's instance or task, for the others one the
// permission decides before anything else.
func (f *authFixture) request(t *testing.T, rt api.Route, id identity) (method, path string, hdr map[string]string, body string) {
	t.Helper()
	inst, task := f.instARN[id.target], f.taskARN[id.target]
	switch rt.Protocol {
	case "json":
		body = "{}"
		switch rt.Name {
		case wire.TargetPrefix + ".RegisterContainerInstance":
			body = fmt.Sprintf(`{"cluster":"default","containerInstanceArn":%q}`, inst)
		case wire.TargetPrefix + ".DiscoverPollEndpoint":
			body = fmt.Sprintf(`{"cluster":"default","containerInstance":%q}`, inst)
		case wire.TargetPrefix + ".SubmitTaskStateChange":
			body = fmt.Sprintf(`{"cluster":"default","task":%q,"status":"RUNNING"}`, task)
		case wire.TargetPrefix + ".SubmitContainerStateChange":
			body = fmt.Sprintf(`{"cluster":"default","task":%q,"containerName":"app","status":"RUNNING"}`, task)
		}
		return http.MethodPost, "/", jsonHeaders(rt.Name), body
	case "query":
		return http.MethodPost, "/", map[string]string{"Content-Type": api.FormContentType}, "Action=" + rt.Name + "&Version=2015-12-01"
	}
	switch rt.Name {
	case link.Path:
		return http.MethodGet, link.Path + "?" + url.Values{link.ParamCluster: {"default"}, link.ParamInstance: {inst}}.Encode(), nil, ""
	case lbnode.Path + "/":
		if id.target == 0 {
			return http.MethodGet, lbnode.Path + "/config?after=0", nil, ""
		}
		return http.MethodPut, lbnode.Path + "/nodes/n1", map[string]string{"Content-Type": "application/json"}, `{"node":"n1"}`
	}
	t.Fatalf("no request for the raw route %s: add one", rt.Name)
	return
}

// denied reports whether the answer is a refusal of the principal.
func denied(resp *http.Response, body string) bool {
	return resp.Header.Get("X-Amzn-Errortype") == api.CodeAccessDenied || strings.Contains(body, "<Code>AccessDenied</Code>") ||
		resp.StatusCode == http.StatusForbidden
}

// TestRouteIdentityMatrix calls every registered route (every JSON
// operation, query action and raw route) as every identity: the account
// key may call everything; an instance key only the agents' operations
// and the link, and only on its own instance; the load balancer nodes' key
// only the node routes.
func TestRouteIdentityMatrix(t *testing.T) {
	f := newAuthFixture(t)
	routes := f.srv.Routes()
	count := map[string]int{}
	for _, rt := range routes {
		count[rt.Protocol+" "+rt.SigningName]++
	}
	if count["json ecs"] != len(wire.Operations) || count["json acm"] < 8 || count["query elasticloadbalancing"] < 30 || count["raw ecs"] != 1 || count["raw elasticloadbalancing"] != 1 {
		t.Fatalf("routes: %v", count)
	}
	// What an instance and a node may call, written here apart from the
	// routes' Permit.
	agent := map[string]bool{
		wire.TargetPrefix + ".RegisterContainerInstance":  true,
		wire.TargetPrefix + ".DiscoverPollEndpoint":       true,
		wire.TargetPrefix + ".SubmitTaskStateChange":      true,
		wire.TargetPrefix + ".SubmitContainerStateChange": true,
		link.Path: true,
	}
	nodeRoutes := map[string]bool{lbnode.Path + "/": true}
	inst0 := f.inst[f.instARN[0]]
	ids := []identity{
		{"instance-own", api.Instance, inst0, 0},
		{"instance-other", api.Instance, inst0, 1},
		{"lb-node", api.LBNode, f.node, 0},
		{"lb-node-put", api.LBNode, f.node, 1},
		// Last: the account's calls may change what the others see.
		{"account", api.Account, f.account, 0},
		{"account-put", api.Account, f.account, 1},
	}
	for _, id := range ids {
		for _, rt := range routes {
			if rt.Protocol != "raw" && id.target == 1 && id.kind != api.Instance {
				continue // only the raw lb route has a second request
			}
			t.Run(id.name+"/"+rt.Name, func(t *testing.T) {
				var want bool
				switch id.kind {
				case api.Account:
					want = true
				case api.Instance:
					want = agent[rt.Name] && id.target == 0
				case api.LBNode:
					want = nodeRoutes[rt.Name]
				}
				method, path, hdr, body := f.request(t, rt, id)
				resp, b := f.call(t, id.key, rt.SigningName, method, path, hdr, body)
				if got := !denied(resp, b); got != want {
					t.Fatalf("%s %s as %s: %d %s; want allowed %v", method, path, id.name, resp.StatusCode, b, want)
				}
				if resp.StatusCode >= 500 {
					t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
				}
			})
		}
	}
}

// TestRawRoutesRequireTheirScope: the node routes refuse a signature
// scoped to ecs, the link one scoped to elasticloadbalancing, even with the
// account key.
func TestRawRoutesRequireTheirScope(t *testing.T) {
	f := newAuthFixture(t)
	for _, tt := range []struct{ path, scope, want string }{
		{lbnode.Path + "/config?after=0", wire.SigningName, "'elasticloadbalancing'"},
		{link.Path + "?" + link.ParamCluster + "=default&" + link.ParamInstance + "=" + url.QueryEscape(f.instARN[0]), lbnode.SigningName, "'ecs'"},
	} {
		resp, b := f.call(t, f.account, tt.scope, http.MethodGet, tt.path, nil, "")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "Credential should be scoped to correct service: "+tt.want) {
			t.Errorf("GET %s signed for %s: %d %s", tt.path, tt.scope, resp.StatusCode, b)
		}
	}
}

// TestUnsignedTargetRefused: a request signed over content-type, host and
// x-amz-date only, with X-Amz-Target added afterwards, is not executed.
func TestUnsignedTargetRefused(t *testing.T) {
	f := newAuthFixture(t)
	req, err := http.NewRequest(http.MethodPost, f.url+"/", strings.NewReader(`{"cluster":"default"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", api.JSONContentType)
	c := aws.Credentials{AccessKeyID: f.account.AccessKeyID, SecretAccessKey: f.account.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hashHex(`{"cluster":"default"}`), wire.SigningName, testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", wire.TargetPrefix+".DeleteCluster")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "'X-Amz-Target' must be a 'SignedHeader'") {
		t.Fatalf("unsigned X-Amz-Target: %d %s", resp.StatusCode, b)
	}
	var out struct {
		Clusters []struct{ Status string } `json:"clusters"`
	}
	json.Unmarshal(f.mustCall(t, "DescribeClusters", `{"clusters":["default"]}`), &out)
	if len(out.Clusters) != 1 || out.Clusters[0].Status != "ACTIVE" {
		t.Fatalf("the cluster after the request: %+v", out)
	}
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// connect opens instance arn's link as its agent does, with the account's
// key, and returns the instance's key, the link's first message. The link
// stays open until the test ends.
func (f *authFixture) connect(t *testing.T, arn string) Credentials {
	t.Helper()
	u := "ws" + strings.TrimPrefix(f.url, "http") + link.Path + "?" + url.Values{link.ParamCluster: {"default"}, link.ParamInstance: {arn}}.Encode()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := aws.Credentials{AccessKeyID: f.account.AccessKeyID, SecretAccessKey: f.account.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hashHex(""), wire.SigningName, testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(u, req.Header)
	if err != nil {
		t.Fatalf("link of %s: %v %v", arn, err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	var m link.Message
	if err := ws.ReadJSON(&m); err != nil || m.Type != link.TypeCredentials || m.Credentials == nil {
		t.Fatalf("link of %s: first message %+v, %v", arn, m, err)
	}
	return Credentials{AccessKeyID: m.Credentials.AccessKeyID, SecretAccessKey: m.Credentials.SecretAccessKey}
}

// TestMetricsListen runs a server: /metrics is not on the API's listener
// (there it needs a signature like every route but /healthz) and is served,
// without one, on --metrics-listen.
func TestMetricsListen(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", testport.Free(t))
	cfg.MetricsListen = fmt.Sprintf("127.0.0.1:%d", testport.Free(t))
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "error"
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- NewMain(cfg, stdout, io.Discard).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	apiURL := "http://" + cfg.Listen
	for !strings.Contains(stdout.String(), "export AWS_ENDPOINT_URL=") {
		select {
		case err := <-done:
			t.Fatalf("the server stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if status, _ := get(apiURL + "/healthz"); status != http.StatusOK {
		t.Fatalf("/healthz: %d", status)
	}
	if status, body := get(apiURL + "/metrics"); status != http.StatusBadRequest || !strings.Contains(body, "MissingAuthenticationTokenException") {
		t.Errorf("/metrics on the API's listener: %d %s", status, body)
	}
	status, body := get("http://" + cfg.MetricsListen + "/metrics")
	if status != http.StatusOK || !strings.Contains(body, `flotilla_api_requests_total{code="MissingAuthenticationTokenException",operation="unknown",service="unknown"} 1`) {
		t.Errorf("/metrics on --metrics-listen: %d %.300s", status, body)
	}
}

// syncBuffer is a bytes.Buffer safe across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
