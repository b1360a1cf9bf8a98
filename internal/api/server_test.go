package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/sigv4"
)

func TestSuccess(t *testing.T) {
	srv := newTestServer(t, api.Config{})
	tests := []struct {
		name   string
		req    signed
		check  func(t *testing.T, body []byte, resp *http.Response)
		status int
	}{
		{
			name: "echo", req: signed{target: toyPrefix + ".Echo", body: `{"name":"a","count":3,"tags":["x"],"unknownMember":{"ignored":true}}`},
			check: func(t *testing.T, body []byte, resp *http.Response) {
				var out map[string]any
				if err := json.Unmarshal(body, &out); err != nil {
					t.Fatal(err)
				}
				if out["name"] != "a" || out["count"] != 3.0 || out["accessKeyId"] != akid || out["region"] != region {
					t.Errorf("output = %s", body)
				}
				if out["requestId"] != resp.Header.Get("X-Amzn-Requestid") {
					t.Errorf("api.RequestID = %v, header = %s", out["requestId"], resp.Header.Get("X-Amzn-Requestid"))
				}
			},
		},
		{
			name: "chunked body", req: signed{target: toyPrefix + ".Echo", body: `{"name":"chunked"}`, chunked: true},
			check: func(t *testing.T, body []byte, _ *http.Response) {
				if !strings.Contains(string(body), `"name":"chunked"`) {
					t.Errorf("output = %s", body)
				}
			},
		},
		{
			name: "nil output is {}", req: signed{target: toyPrefix + ".Nil"},
			check: func(t *testing.T, body []byte, _ *http.Response) {
				if string(body) != "{}" {
					t.Errorf("body = %q, want {}", body)
				}
			},
		},
		{
			name: "no HTML escaping", req: signed{target: toyPrefix + ".Echo", body: `{"name":"<a&b>"}`},
			check: func(t *testing.T, body []byte, _ *http.Response) {
				if !strings.Contains(string(body), `"name":"<a&b>"`) {
					t.Errorf("output = %s", body)
				}
			},
		},
		{
			name: "body at the size limit", req: signed{target: toyPrefix + ".Echo", body: `{"name":"` + strings.Repeat("x", api.DefaultMaxBodyBytes-11) + `"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, newRequest(t, srv.URL, tt.req))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != api.JSONContentType {
				t.Errorf("Content-Type = %q", ct)
			}
			if !requestIDRE.MatchString(resp.Header.Get("X-Amzn-Requestid")) || resp.Header.Get("Date") == "" {
				t.Errorf("headers = %v", resp.Header)
			}
			if tt.check != nil {
				tt.check(t, body, resp)
			}
		})
	}
}

// TestWireHeaderSpelling reads a raw response: AWS spells its headers
// x-amzn-RequestId and x-amzn-ErrorType.
func TestWireHeaderSpelling(t *testing.T) {
	srv := newTestServer(t, api.Config{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
	raw, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"\r\nx-amzn-RequestId: ", "\r\nx-amzn-ErrorType: MissingAuthenticationTokenException\r\n", "\r\nDate: "} {
		if !strings.Contains(string(raw), h) {
			t.Errorf("response lacks %q:\n%s", h, raw)
		}
	}
}

func TestOpenRoutes(t *testing.T) {
	srv := newTestServer(t, api.Config{})
	// Count a success, a client error and an unknown operation first.
	do(t, newRequest(t, srv.URL, signed{target: toyPrefix + ".Echo", body: `{"name":"a"}`}))
	do(t, newRequest(t, srv.URL, signed{target: toyPrefix + ".NotFound"}))
	for i := range 3 {
		do(t, newRequest(t, srv.URL, signed{target: toyPrefix + ".Made_Up_" + string(rune('A'+i))}))
		do(t, newRequest(t, srv.URL, signed{target: "Other_" + string(rune('A'+i)) + ".Op"}))
	}

	get := func(path string) (*http.Response, string) {
		if path == "/metrics" {
			path = srv.MetricsURL // a listener of its own
		} else {
			path = srv.URL + path
		}
		resp, err := http.Get(path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/healthz")
	if resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("/healthz = %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Amzn-Requestid") == "" {
		t.Error("/healthz has no request id")
	}

	resp, body = get("/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	for _, want := range []string{
		`flotilla_api_requests_total{code="OK",operation="Echo",service="toy"} 1`,
		`flotilla_api_requests_total{code="ThingNotFoundException",operation="NotFound",service="toy"} 1`,
		`flotilla_api_requests_total{code="UnknownOperationException",operation="unknown",service="toy"} 3`,
		`flotilla_api_requests_total{code="UnknownOperationException",operation="unknown",service="unknown"} 3`,
		`flotilla_api_request_duration_seconds_count{operation="Echo",service="toy"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "Made_Up") || strings.Contains(body, "Other_") {
		t.Error("made-up targets became metric labels")
	}

	// Everything else needs a signature, GET / and GET /metrics on the
	// API's listener included: the metrics name every resource.
	for _, path := range []string{"/", "/metrics"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "MissingAuthenticationTokenException") {
			t.Errorf("GET %s = %d %s", path, resp.StatusCode, b)
		}
	}
}

func TestLogs(t *testing.T) {
	srv := newTestServer(t, api.Config{})
	type entry struct {
		Level     string  `json:"level"`
		Msg       string  `json:"msg"`
		Component string  `json:"component"`
		RequestID string  `json:"request_id"`
		Service   string  `json:"service"`
		Operation string  `json:"operation"`
		Status    int     `json:"status"`
		ErrorCode string  `json:"error_code"`
		Error     string  `json:"error"`
		Stack     string  `json:"stack"`
		Duration  float64 `json:"duration_ms"`
	}
	tests := []struct {
		target    string
		level     string
		status    int
		errorCode string
		cause     string // substring of the logged cause
	}{
		{target: ".Nil", level: "DEBUG", status: 200},
		{target: ".NotFound", level: "INFO", status: 400, errorCode: "ThingNotFoundException"},
		{target: ".Fail", level: "ERROR", status: 500, errorCode: "ServerException", cause: "state.db is corrupt"},
		{target: ".Panic", level: "ERROR", status: 500, errorCode: "ServerException", cause: "panic: assignment to entry in nil map"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			resp, body := do(t, newRequest(t, srv.URL, signed{target: toyPrefix + tt.target}))
			if strings.Contains(string(body), "corrupt") || strings.Contains(string(body), "nil map") {
				t.Errorf("internals leaked to the client: %s", body)
			}
			id := resp.Header.Get("X-Amzn-Requestid")
			var found *entry
			for _, line := range strings.Split(srv.Logs.String(), "\n") {
				var e entry
				if json.Unmarshal([]byte(line), &e) == nil && e.RequestID == id {
					found = &e
				}
			}
			if found == nil {
				t.Fatalf("no log line for request %s:\n%s", id, srv.Logs.String())
			}
			e := *found
			if e.Level != tt.level || e.Component != "api" || e.Service != toySigning || e.Operation != strings.TrimPrefix(tt.target, ".") ||
				e.Status != tt.status || e.ErrorCode != tt.errorCode || e.Msg != "request" {
				t.Errorf("log entry = %+v", e)
			}
			if tt.cause != "" && !strings.Contains(e.Error, tt.cause) {
				t.Errorf("logged error = %q, want it to contain %q", e.Error, tt.cause)
			}
			if tt.target == ".Panic" && !strings.Contains(e.Stack, "helpers_test.go") {
				t.Errorf("panic logged without the handler's stack: %q", e.Stack)
			}
		})
	}
}

// TestBodyNotReadBeyondLimit sends a body announced far over the limit and
// checks that the server answered without reading it.
func TestBodyNotReadBeyondLimit(t *testing.T) {
	srv := newTestServer(t, api.Config{MaxBodyBytes: 1 << 10})
	const size = 256 << 20
	var read atomic.Int64
	req := newRequest(t, srv.URL, signed{target: toyPrefix + ".Echo", body: "{}"})
	req.Body = io.NopCloser(countingZeros{n: size, read: &read})
	req.ContentLength = size
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "SerializationException") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if n := read.Load(); n > 64<<20 {
		t.Errorf("the client sent %d bytes of a rejected body", n)
	}
}

type countingZeros struct {
	n    int64
	read *atomic.Int64
}

func (c countingZeros) Read(p []byte) (int, error) {
	left := c.n - c.read.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), left))
	clear(p[:n])
	c.read.Add(int64(n))
	return n, nil
}

func TestContextOutsideRequest(t *testing.T) {
	ctx := context.Background()
	if api.RequestID(ctx) != "" || api.AccessKeyID(ctx) != "" {
		t.Error("values outside a request")
	}
	ctx = api.NewContext(ctx, "rid", "AKID")
	if api.RequestID(ctx) != "rid" || api.AccessKeyID(ctx) != "AKID" {
		t.Error("NewContext values not returned")
	}
}

type brokenCredentials struct{}

func (brokenCredentials) SecretAccessKey(context.Context, string) (string, error) {
	return "", errors.New("etcd: connection refused to 10.0.0.7:2379")
}

func TestCredentialsLookupFailure(t *testing.T) {
	srv := newTestServer(t, api.Config{Credentials: brokenCredentials{}})
	resp, body := do(t, newRequest(t, srv.URL, signed{target: toyPrefix + ".Nil"}))
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "10.0.0.7") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if !strings.Contains(srv.Logs.String(), "connection refused") {
		t.Error("lookup failure not logged")
	}
}

func TestErrorMapping(t *testing.T) {
	canceled := api.JSON(func(ctx context.Context, _ *empty) (*empty, error) {
		return nil, context.Canceled
	})
	validation := api.JSON(func(ctx context.Context, _ *empty) (*empty, error) {
		return nil, (&echoInput{}).Validate() // handlers may validate too
	})
	mapsEverything := func(error) *api.Error { return api.Errorf("ClientException", "mapped") }
	s := api.NewServer(api.Config{Credentials: credentials})
	s.HandleJSON(api.JSONService{
		TargetPrefix: "Map_1", SigningName: "map",
		Operations: map[string]api.Operation{"Canceled": canceled, "Validation": validation},
		MapError:   mapsEverything,
	})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	tests := []struct {
		op, code string
		status   int
	}{
		{"Canceled", "ServerException", 500}, // before the table
		{"Validation", "ValidationException", 400},
	}
	for _, tt := range tests {
		resp, body := do(t, newRequest(t, hs.URL, signed{target: "Map_1." + tt.op, service: "map"}))
		if resp.StatusCode != tt.status || resp.Header.Get("X-Amzn-Errortype") != tt.code {
			t.Errorf("%s: %d %s", tt.op, resp.StatusCode, body)
		}
	}
}

func TestHandleJSONPanics(t *testing.T) {
	tests := []struct {
		name string
		svc  api.JSONService
	}{
		{"no prefix", api.JSONService{SigningName: "x"}},
		{"no signing name", api.JSONService{TargetPrefix: "X"}},
		{"zero operation", api.JSONService{TargetPrefix: "X", SigningName: "x", Operations: map[string]api.Operation{"A": {}}}},
		{"duplicate", toyService(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := api.NewServer(api.Config{Credentials: credentials})
			s.HandleJSON(toyService(false))
			defer func() {
				if recover() == nil {
					t.Error("HandleJSON did not panic")
				}
			}()
			s.HandleJSON(tt.svc)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (api.Config{}).Validate(); err == nil {
		t.Error("config without credentials accepted")
	}
	if err := (api.Config{Credentials: credentials, MaxBodyBytes: -1}).Validate(); err == nil {
		t.Error("negative body limit accepted")
	}
	if err := (api.Config{Credentials: credentials}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestSharedRegistry(t *testing.T) {
	// Two servers on one registry share the metrics instead of failing.
	a := newTestServer(t, api.Config{})
	b := api.NewServer(api.Config{Credentials: credentials, Registerer: a.Reg})
	b.HandleJSON(toyService(false))
}

func TestConcurrentRequests(t *testing.T) {
	srv := newTestServer(t, api.Config{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 20 {
				target := toyPrefix + ".Echo"
				if (i+j)%3 == 0 {
					target = toyPrefix + ".NotFound"
				}
				resp, body := do(t, newRequest(t, srv.URL, signed{target: target, body: `{"name":"n"}`, at: time.Now()}))
				if resp.StatusCode != 200 && resp.StatusCode != 400 {
					t.Errorf("status %d: %s", resp.StatusCode, body)
				}
			}
		})
	}
	wg.Wait()
}

var _ sigv4.Credentials = brokenCredentials{}

func TestHandleAuthenticated(t *testing.T) {
	s := api.NewServer(api.Config{Credentials: credentials, Logger: slog.New(slog.DiscardHandler)})
	s.HandleAuthenticated("/link", api.RawRoute{SigningName: "ecs", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, api.AccessKeyID(r.Context())+" "+api.SigningRegion(r.Context()))
	})})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()

	resp, body := do(t, mustRequest(t, http.MethodGet, hs.URL+"/link"))
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-Errortype") != sigv4.CodeMissingAuthenticationToken {
		t.Errorf("unsigned: %d %s", resp.StatusCode, body)
	}
	req := mustRequest(t, http.MethodGet, hs.URL+"/link")
	c := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hashHex(nil), "ecs", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, body = do(t, req)
	if resp.StatusCode != http.StatusOK || string(body) != akid+" "+region {
		t.Errorf("signed: %d %s", resp.StatusCode, body)
	}

	// A signature for another service's scope is refused.
	req = mustRequest(t, http.MethodGet, hs.URL+"/link")
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hashHex(nil), "elasticloadbalancing", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, body = do(t, req)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-Errortype") != sigv4.CodeInvalidSignature ||
		!strings.Contains(string(body), "Credential should be scoped to correct service: 'ecs'.") {
		t.Errorf("signed for elasticloadbalancing: %d %s", resp.StatusCode, body)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
