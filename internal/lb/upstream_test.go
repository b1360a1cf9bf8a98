package lb

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPlainSameAsReverseProxy checks that a plain request (GET, no body),
// which skips ReverseProxy, reaches the target with the same request line
// and headers as one that goes through it (a POST with a body), and that
// their responses reach the client alike: hop-by-hop headers removed both
// ways, the Host and the query kept, "Te: trailers" kept, trailers and
// informational responses passed on.
func TestPlainSameAsReverseProxy(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	b := newBackend(t, "echo")
	var mu sync.Mutex
	seen := map[string]http.Header{}
	b.setHandler(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h["Request-Line"] = []string{r.RequestURI + " " + r.Proto}
		h["Request-Host"] = []string{r.Host}
		mu.Lock()
		seen[r.Method] = h
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)

		wh := w.Header()
		wh.Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		wh.Del("Link")
		wh.Set("Connection", "X-Hop")
		wh.Set("X-Hop", "dropped")
		wh.Set("Keep-Alive", "timeout=5")
		wh.Add("Set-Cookie", "a=1")
		wh.Add("Set-Cookie", "b=2")
		wh.Set("Trailer", "X-Announced")
		wh.Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "body")
		wh.Set("X-Announced", "yes")
		wh.Set(http.TrailerPrefix+"X-Unannounced", "also")
	})
	mustUpdate(t, s, oneListener(forward(tgARN("echo")), nil, group("echo", b)))
	url := baseURL(t, s, listenerARN) + "/p%2Fq/r?x=1&y=%20"
	c := newClient(t)

	type result struct {
		code    int
		body    string
		header  http.Header
		trailer http.Header
		hints   []string
	}
	send := func(method string, body io.Reader) result {
		t.Helper()
		var res result
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			res.hints = append(res.hints, strconv.Itoa(code)+" "+h.Get("Link"))
			return nil
		}}
		req, _ := http.NewRequest(method, url, body)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		req.Host = "app.example.com:8080"
		req.Header.Set("Connection", "X-Private")
		req.Header.Set("X-Private", "secret")
		req.Header.Set("Keep-Alive", "timeout=5")
		req.Header.Set("Proxy-Authorization", "Basic eDp5")
		req.Header.Set("Te", "trailers, deflate")
		req.Header.Add("X-Multi", "1")
		req.Header.Add("X-Multi", "2")
		req.Header.Set("X-Forwarded-For", "10.0.0.1")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		res.code, res.body, res.header, res.trailer = resp.StatusCode, string(data), resp.Header, resp.Trailer
		res.header.Del("Date")
		return res
	}
	plain := send(http.MethodGet, nil)
	proxied := send(http.MethodPost, strings.NewReader("data"))

	mu.Lock()
	get, post := seen[http.MethodGet], seen[http.MethodPost]
	mu.Unlock()
	for _, h := range []http.Header{get, post} {
		h.Del("Content-Length")  // of the POST's body
		h.Del("X-Amzn-Trace-Id") // a new one each
	}
	if !reflect.DeepEqual(get, post) {
		t.Errorf("target got\n%v\nfor the plain request, and\n%v\nthrough ReverseProxy", get, post)
	}
	for _, k := range []string{"Connection", "X-Private", "Keep-Alive", "Proxy-Authorization"} {
		if v, ok := get[k]; ok {
			t.Errorf("target got hop-by-hop header %s: %q", k, v)
		}
	}
	want := map[string]string{
		"Request-Line": "/p%2Fq/r?x=1&y=%20 HTTP/1.1", "Request-Host": "app.example.com:8080",
		"Te": "trailers", "X-Forwarded-For": "10.0.0.1, 127.0.0.1", "X-Multi": "1",
	}
	for k, v := range want {
		if got := get.Get(k); got != v {
			t.Errorf("target got %s %q, want %q", k, got, v)
		}
	}

	if !reflect.DeepEqual(plain, proxied) {
		t.Errorf("client got\n%+v\nfor the plain request, and\n%+v\nthrough ReverseProxy", plain, proxied)
	}
	if plain.code != http.StatusTeapot || plain.body != "body" {
		t.Errorf("response %d %q", plain.code, plain.body)
	}
	if got := plain.header["Set-Cookie"]; !reflect.DeepEqual(got, []string{"a=1", "b=2"}) {
		t.Errorf("Set-Cookie %q", got)
	}
	for _, k := range []string{"X-Hop", "Keep-Alive", "Connection"} {
		if v, ok := plain.header[k]; ok {
			t.Errorf("client got hop-by-hop header %s: %q", k, v)
		}
	}
	if plain.trailer.Get("X-Announced") != "yes" || plain.trailer.Get("X-Unannounced") != "also" {
		t.Errorf("trailers %v", plain.trailer)
	}
	if !reflect.DeepEqual(plain.hints, []string{"103 </style.css>; rel=preload"}) {
		t.Errorf("informational responses %q", plain.hints)
	}
}

// TestSimpleHeadSameAsReverseProxy checks that a response the short way
// reads with its own parser (written straight to the client, or through
// the header when it has no Content-Type) reaches the client as the same
// response does through ReverseProxy: hop-by-hop fields removed, repeated
// fields kept in order, a Date added when the target sent none.
func TestSimpleHeadSameAsReverseProxy(t *testing.T) {
	for _, answer := range []string{
		"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n" +
			"X-A: 1\r\nx-a: 2\r\nProxy-Authenticate: Basic\r\nContent-Length: 4\r\n\r\nbody",
		"HTTP/1.1 200 OK\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Length: 9\r\n\r\n<p>hi</p>",
		"HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nhi", // bare LFs: net/http's way
	} {
		s, _ := newTestServer(t, Options{})
		tg := group("raw")
		tg.Targets = []Target{rawTarget(t, answer, false)}
		mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
		c := newClient(t)
		send := func(method string, body io.Reader) (int, string, http.Header) {
			t.Helper()
			req, _ := http.NewRequest(method, baseURL(t, s, listenerARN)+"/", body)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", method, err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if _, err := http.ParseTime(resp.Header.Get("Date")); err != nil {
				t.Errorf("%q: %s: Date %q", answer, method, resp.Header.Get("Date"))
			}
			if strings.Contains(answer, "Date: ") {
				if got := resp.Header.Get("Date"); got != "Mon, 02 Jan 2006 15:04:05 GMT" {
					t.Errorf("%q: %s: Date %q, not the target's", answer, method, got)
				}
			}
			resp.Header.Del("Date")
			return resp.StatusCode, string(data), resp.Header
		}
		code, body, h := send(http.MethodGet, nil)
		pcode, pbody, ph := send(http.MethodPost, strings.NewReader("x"))
		if code != pcode || body != pbody || !reflect.DeepEqual(h, ph) {
			t.Errorf("%q: short way %d %q %v; ReverseProxy %d %q %v", answer, code, body, h, pcode, pbody, ph)
		}
		for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Authenticate"} {
			if v, ok := h[k]; ok {
				t.Errorf("%q: client got hop-by-hop field %s: %q", answer, k, v)
			}
		}
	}
}

// TestSimpleHeadEventStream flushes each piece of an event stream's body
// to the client as it comes, Content-Length or not, as ReverseProxy does.
func TestSimpleHeadEventStream(t *testing.T) {
	rest := make(chan struct{})
	target := serveRaw(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		if req.URL.Path != "/events" { // a health check
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 22\r\n\r\ndata: one\n\n")
		<-rest
		io.WriteString(c, "data: two\n\n")
	})
	s, _ := newTestServer(t, Options{})
	tg := group("sse")
	target.ID = "i-sse"
	tg.Targets = []Target{target}
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	rc := dialRaw(t, s)
	rc.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	// The rest of the body comes only once the first event got through.
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("data: one\n\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: one\n\n" {
		t.Fatalf("first event %q, %v", first, err)
	}
	close(rest)
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "data: two\n\n" {
		t.Errorf("second event %q, %v", b, err)
	}
}

// rawTarget is a target speaking HTTP/1.1 by hand: it answers every request
// with answer, then closes the connection if closeAfter, without saying so.
func rawTarget(t *testing.T, answer string, closeAfter bool) Target {
	t.Helper()
	return serveRaw(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(c, answer); err != nil || closeAfter {
				return
			}
		}
	})
}

// serveRaw is a target that serves each connection with handle, in a
// goroutine of its own, and closes it after.
func serveRaw(t *testing.T, handle func(c net.Conn)) Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return Target{ID: "i-raw", Address: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}
}

// TestPlainStaleConnection checks that a plain request sent on a kept-alive
// connection the target has closed meanwhile is sent again on a new one,
// as http.Transport does.
func TestPlainStaleConnection(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	tg := group("raw")
	tg.Targets = []Target{rawTarget(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true)}
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	c, url := newClient(t), baseURL(t, s, listenerARN)+"/"
	for i := range 20 {
		if resp := get(t, c, url); resp.code != http.StatusOK || resp.body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.code, resp.body)
		}
	}
}

// TestPlainTargetErrors checks the answers to plain requests whose target
// fails: 502 when it answers with nothing usable, a connection broken off
// when its body breaks off.
func TestPlainTargetErrors(t *testing.T) {
	tests := []struct {
		name, answer string
		code         int // 0: the client's connection is broken off
	}{
		{"garbage", "NOT HTTP\r\n\r\n", http.StatusBadGateway},
		{"switching protocols unasked", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n", http.StatusBadGateway},
		{"too many informational responses", strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 6) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", http.StatusBadGateway},
		{"body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			tg := group("raw")
			tg.Targets = []Target{rawTarget(t, tt.answer, true)}
			mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
			resp, err := newClient(t).Get(baseURL(t, s, listenerARN) + "/")
			if err == nil {
				defer resp.Body.Close()
				_, err = io.ReadAll(resp.Body)
			}
			if tt.code == 0 {
				// Before or after the response's head, depending on
				// whether it was sent before the connection broke.
				if err == nil {
					t.Errorf("response read in full, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.code || err != nil {
				t.Errorf("status %d (%v), want %d", resp.StatusCode, err, tt.code)
			}
		})
	}
}

// TestPlainIdleTimeout checks that a connection the plain requests left
// idle is closed after Options.TargetIdleTimeout.
func TestPlainIdleTimeout(t *testing.T) {
	s, _ := newTestServer(t, Options{TargetIdleTimeout: 50 * time.Millisecond})
	b := newBackend(t, "a")
	tg := group("a", b)
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	if resp := get(t, newClient(t), baseURL(t, s, listenerARN)+"/"); resp.code != http.StatusOK {
		t.Fatalf("status %d", resp.code)
	}
	s.mu.Lock()
	target := s.tgs[tg.ARN].pool.Load().registered[0]
	s.mu.Unlock()
	open := func() int {
		target.conns.mu.Lock()
		defer target.conns.mu.Unlock()
		return len(target.conns.conns)
	}
	if n := open(); n != 1 {
		t.Fatalf("%d connections open after a request, want 1", n)
	}
	waitFor(t, "the idle connection closed", func() bool { return open() == 0 })
}
