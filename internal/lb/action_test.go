package lb

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRedirectLocation(t *testing.T) {
	v := redirectVars{protocol: "http", host: "example.com", port: "80", path: "a/b%20c", query: "x=1&y=2"}
	tests := []struct {
		name string
		rc   RedirectConfig
		vars redirectVars
		want string
	}{
		{"to https", RedirectConfig{Protocol: "HTTPS", Port: "443"}, v, "https://example.com/a/b%20c?x=1&y=2"},
		{"to https keeping port 80", RedirectConfig{Protocol: "HTTPS"}, v, "https://example.com:80/a/b%20c?x=1&y=2"},
		{"other host", RedirectConfig{Host: "www.#{host}"}, v, "http://www.example.com/a/b%20c?x=1&y=2"},
		{"path prefix", RedirectConfig{Path: "/v2/#{path}"}, v, "http://example.com/v2/a/b%20c?x=1&y=2"},
		{"fixed path", RedirectConfig{Path: "/moved"}, v, "http://example.com/moved?x=1&y=2"},
		{"path with host and port", RedirectConfig{Path: "/#{host}/#{port}/#{path}"}, v, "http://example.com/example.com/80/a/b%20c?x=1&y=2"},
		{"query replaced", RedirectConfig{Query: "from=#{host}"}, v, "http://example.com/a/b%20c?from=example.com"},
		{"query extended", RedirectConfig{Query: "#{query}&src=lb"}, v, "http://example.com/a/b%20c?x=1&y=2&src=lb"},
		{"query with protocol", RedirectConfig{Query: "p=#{protocol}", Port: "8080"}, v, "http://example.com:8080/a/b%20c?p=http"},
		{"no query", RedirectConfig{Host: "other.example"}, redirectVars{protocol: "http", host: "example.com", port: "80", path: ""}, "http://other.example/"},
		{"non-default port kept", RedirectConfig{Host: "b.example"}, redirectVars{protocol: "https", host: "a.example", port: "8443", path: "p"}, "https://b.example:8443/p"},
		{"IPv6 host", RedirectConfig{Path: "/new"}, redirectVars{protocol: "http", host: "::1", port: "8080", path: "old"}, "http://[::1]:8080/new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rc.StatusCode = RedirectHTTP301
			if err := validateRedirect(tt.rc); err != nil {
				t.Fatal(err)
			}
			if got := tt.rc.location(tt.vars); got != tt.want {
				t.Errorf("location = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestActions checks each action type through a real listener.
func TestActions(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	web := newBackend(t, "web")
	path := func(p string) []Condition { return []Condition{{Field: FieldPathPattern, Values: []string{p}}} }
	redirect := func(rc RedirectConfig) []Action { return []Action{{Type: ActionRedirect, RedirectConfig: &rc}} }
	rules := []Rule{
		{Priority: 1, Conditions: path("/old/*"), Actions: redirect(RedirectConfig{Path: "/new/#{path}", StatusCode: RedirectHTTP301})},
		{Priority: 2, Conditions: path("/secure"), Actions: redirect(RedirectConfig{Protocol: "HTTPS", Port: "443", StatusCode: RedirectHTTP302})},
		{Priority: 3, Conditions: path("/elsewhere"), Actions: redirect(RedirectConfig{Host: "www.example.org", Port: "8080", Query: "from=#{host}&#{query}", StatusCode: RedirectHTTP302})},
		{Priority: 4, Conditions: path("/maintenance"), Actions: []Action{{Type: ActionFixedResponse, FixedResponseConfig: &FixedResponseConfig{
			StatusCode: "503", ContentType: "application/json", MessageBody: `{"error":"maintenance"}`}}}},
		{Priority: 5, Conditions: path("/empty"), Actions: []Action{{Type: ActionFixedResponse, FixedResponseConfig: &FixedResponseConfig{StatusCode: "204"}}}},
		{Priority: 6, Conditions: path("/weighted"), Actions: []Action{{Type: ActionForward, ForwardConfig: &ForwardConfig{
			TargetGroups: []TargetGroupTuple{{TargetGroupARN: tgARN("web"), Weight: 10}}}}}},
	}
	mustUpdate(t, s, oneListener(forward(tgARN("web")), rules, group("web", web)))
	base := baseURL(t, s, listenerARN)
	port := strings.TrimPrefix(base, "http://127.0.0.1:")

	tests := []struct {
		name       string
		path       string
		host       string
		wantCode   int
		wantHeader map[string]string
		wantBody   string
	}{
		{name: "redirect path", path: "/old/a/b?q=1", host: "example.com", wantCode: 301,
			wantHeader: map[string]string{"Location": "http://example.com:" + port + "/new/old/a/b?q=1"}},
		{name: "redirect to https", path: "/secure?x=y", host: "example.com:" + port, wantCode: 302,
			wantHeader: map[string]string{"Location": "https://example.com/secure?x=y"}},
		{name: "redirect host, port and query", path: "/elsewhere?a=1", host: "shop.example.com", wantCode: 302,
			wantHeader: map[string]string{"Location": "http://www.example.org:8080/elsewhere?from=shop.example.com&a=1"}},
		{name: "fixed response", path: "/maintenance", wantCode: 503,
			wantHeader: map[string]string{"Content-Type": "application/json"}, wantBody: `{"error":"maintenance"}`},
		{name: "fixed response without body", path: "/empty", wantCode: 204,
			wantHeader: map[string]string{"Content-Type": "text/plain"}},
		{name: "forward with forward config", path: "/weighted", wantCode: 200, wantBody: "web"},
		{name: "forward default", path: "/", wantCode: 200, wantBody: "web",
			wantHeader: map[string]string{"X-Backend": "web"}},
	}
	c := newClient(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.host != "" {
				h.Set("Host", tt.host)
			}
			resp := do(t, c, http.MethodGet, base+tt.path, h)
			if resp.code != tt.wantCode || resp.body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.code, resp.body, tt.wantCode, tt.wantBody)
			}
			for k, v := range tt.wantHeader {
				if got := resp.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestForwardedHeaders checks what a target sees of a forwarded request.
func TestForwardedHeaders(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	echo := newBackend(t, "echo")
	seen := make(chan *http.Request, 10)
	echo.setHandler(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Clone(context.Background())
	})
	mustUpdate(t, s, oneListener(forward(tgARN("echo")), nil, group("echo", echo)))
	base := baseURL(t, s, listenerARN)
	port := strings.TrimPrefix(base, "http://127.0.0.1:")
	c := newClient(t)

	tests := []struct {
		name    string
		header  http.Header
		wantXFF string
	}{
		{"no prior X-Forwarded-For", http.Header{"Host": {"app.example.com"}}, "127.0.0.1"},
		{"appended", http.Header{"X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7, 127.0.0.1"},
		{"appended to several", http.Header{"X-Forwarded-For": {"203.0.113.7, 198.51.100.1"}}, "203.0.113.7, 198.51.100.1, 127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header.Clone()
			h.Set("X-Forwarded-Proto", "https") // a client's claim, overwritten
			h.Set("X-Amzn-Trace-Id", "")
			h.Del("X-Amzn-Trace-Id")
			if resp := do(t, c, http.MethodGet, base+"/p/a%2Fb?z=1&a=%zz", h); resp.code != 200 {
				t.Fatalf("status %d", resp.code)
			}
			r := <-seen
			checks := map[string]string{
				"X-Forwarded-For":   tt.wantXFF,
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Port":  port,
			}
			for k, want := range checks {
				if got := strings.Join(r.Header.Values(k), ","); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if want := cmpOr(tt.header.Get("Host"), strings.TrimPrefix(base, "http://")); r.Host != want {
				t.Errorf("Host = %q, want %q (kept)", r.Host, want)
			}
			if r.URL.RawQuery != "z=1&a=%zz" {
				t.Errorf("query = %q, want it unchanged", r.URL.RawQuery)
			}
			if r.URL.EscapedPath() != "/p/a%2Fb" {
				t.Errorf("path = %q, want it unchanged", r.URL.EscapedPath())
			}
			if id := r.Header.Get("X-Amzn-Trace-Id"); !strings.HasPrefix(id, "Root=1-") || len(id) != len("Root=1-")+8+1+24 {
				t.Errorf("X-Amzn-Trace-Id = %q", id)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestLoadBalancerErrors checks the errors the load balancer answers
// itself.
func TestLoadBalancerErrors(t *testing.T) {
	// A port nothing listens on: bind one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().(*net.TCPAddr)
	ln.Close()
	deadTarget := Target{ID: "i-dead", Address: "127.0.0.1", Port: dead.Port}

	tests := []struct {
		name    string
		opts    Options
		targets []Target
		want    int
	}{
		{"connection refused: 502", Options{}, []Target{deadTarget}, http.StatusBadGateway},
		{"no targets: 503", Options{}, nil, http.StatusServiceUnavailable},
		// A connect timeout shorter than any connection makes every dial
		// time out, deterministically.
		{"connect timeout: 504", Options{ConnectTimeout: time.Nanosecond}, []Target{deadTarget}, http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, tt.opts)
			tg := group("tg")
			tg.Targets = tt.targets
			mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
			resp := get(t, newClient(t), baseURL(t, s, listenerARN)+"/")
			if resp.code != tt.want {
				t.Errorf("status %d, want %d", resp.code, tt.want)
			}
			if !strings.Contains(resp.body, http.StatusText(tt.want)) {
				t.Errorf("body %q", resp.body)
			}
		})
	}
}

// TestClientCancel checks that a client going away cancels its request to
// the target.
func TestClientCancel(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	b := newBackend(t, "slow")
	started, cancelled := make(chan struct{}), make(chan struct{})
	b.setHandler(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(cancelled)
	})
	mustUpdate(t, s, oneListener(forward(tgARN("slow")), nil, group("slow", b)))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(t, s, listenerARN)+"/", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := newClient(t).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel()
	<-cancelled // the test hangs, and times out, if the target never learns
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error %v, want context.Canceled", err)
	}
}

// TestStreaming checks that bodies are streamed both ways: the client reads
// the first part of a response before the target writes the rest, and the
// target reads the first part of a request before the client sends the
// rest.
func TestStreaming(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	b := newBackend(t, "stream")
	next := make(chan struct{})
	b.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			http.NewResponseController(w).EnableFullDuplex()
			br := bufio.NewReader(r.Body)
			line, _ := br.ReadString('\n')
			io.WriteString(w, "got "+line)
			w.(http.Flusher).Flush()
			rest, _ := io.ReadAll(br)
			io.WriteString(w, "then "+string(rest))
			return
		}
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "second\n")
	})
	mustUpdate(t, s, oneListener(forward(tgARN("stream")), nil, group("stream", b)))
	base := baseURL(t, s, listenerARN)
	c := newClient(t)

	t.Run("response", func(t *testing.T) {
		resp, err := c.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		if line, err := r.ReadString('\n'); line != "first\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		close(next)
		if rest, _ := io.ReadAll(r); string(rest) != "second\n" {
			t.Errorf("rest %q", rest)
		}
	})
	t.Run("request", func(t *testing.T) {
		pr, pw := io.Pipe()
		go io.WriteString(pw, "hello\n")
		req, _ := http.NewRequest(http.MethodPost, base+"/", pr)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		if line, err := r.ReadString('\n'); line != "got hello\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		// The rest of the request is sent only now that the target has
		// answered its first part.
		io.WriteString(pw, "bye")
		pw.Close()
		if rest, _ := io.ReadAll(r); string(rest) != "then bye" {
			t.Errorf("rest %q", rest)
		}
	})
}

// TestUpgrade checks that a protocol upgrade (WebSocket's mechanism) goes
// through: after the 101 the connection carries bytes both ways.
func TestUpgrade(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	b := newBackend(t, "echo")
	b.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		io.Copy(conn, brw)
	})
	mustUpdate(t, s, oneListener(forward(tgARN("echo")), nil, group("echo", b)))
	conn, err := net.Dial("tcp", s.Addr(listenerARN).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, msg := range []string{"ping\n", "pong\n"} {
		io.WriteString(conn, msg)
		if got, err := br.ReadString('\n'); got != msg {
			t.Errorf("echoed %q, %v; want %q", got, err, msg)
		}
	}
}
