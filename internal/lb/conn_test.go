package lb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// rawConn is a client connection to a listener, written and read by hand.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, s *Server) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr(listenerARN).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Only keeps a broken test from hanging; nothing is asserted about time.
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// read reads a response to a request of method, and its body.
func (rc *rawConn) read(method string) (*http.Response, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// closed reports whether the server closed the connection (or reset it).
func (rc *rawConn) closed() bool {
	_, err := rc.br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func echoBackend(t *testing.T) *backend {
	be := newBackend(t, "a")
	be.setHandler(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Forwarded-Seen", r.Header.Get("X-Forwarded-For"))
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	})
	return be
}

func connServer(t *testing.T, opts Options) (*Server, *backend) {
	s, _ := newTestServer(t, opts)
	be := echoBackend(t)
	tg := group("tg", be)
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	waitState(t, s, tg.ARN, StateHealthy, be)
	return s, be
}

// TestConnKeepAlive sends requests one after the other and pipelined on one
// connection.
func TestConnKeepAlive(t *testing.T) {
	s, _ := connServer(t, Options{})
	rc := dialRaw(t, s)
	rc.send("GET /one?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
	resp, body := rc.read(http.MethodGet)
	if resp.StatusCode != 200 || body != "GET /one?x=1 " || resp.Header.Get("X-Forwarded-Seen") != "127.0.0.1" {
		t.Fatalf("first: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	rc.send("GET /two HTTP/1.1\r\nHost: example.com\r\n\r\nHEAD /three HTTP/1.1\r\nHost: example.com\r\n\r\n" +
		"GET /four HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
	if _, body := rc.read(http.MethodGet); body != "GET /two " {
		t.Errorf("second: %q", body)
	}
	if resp, body := rc.read(http.MethodHead); resp.StatusCode != 200 || body != "" || resp.Header.Get("X-Method") != "HEAD" {
		t.Errorf("pipelined HEAD: %d %q", resp.StatusCode, body)
	}
	if resp, body := rc.read(http.MethodGet); body != "GET /four " || !resp.Close {
		t.Errorf("last: %q, close %v", body, resp.Close)
	}
	if !rc.closed() {
		t.Error("connection open after Connection: close")
	}
}

// TestConnHTTP10 follows HTTP/1.0's keep-alive rules.
func TestConnHTTP10(t *testing.T) {
	s, _ := connServer(t, Options{})
	rc := dialRaw(t, s)
	rc.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	resp, body := rc.read(http.MethodGet)
	if body != "GET /a " || resp.Close || resp.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("keep-alive: %q close %v %v", body, resp.Close, resp.Header)
	}
	rc.send("GET /b HTTP/1.0\r\n\r\n")
	if _, body := rc.read(http.MethodGet); body != "GET /b " {
		t.Errorf("second: %q", body)
	}
	if !rc.closed() {
		t.Error("HTTP/1.0 connection open without keep-alive")
	}
}

// TestConnFallback hands a connection to net/http at the first request
// with a body, and net/http serves the rest of it.
func TestConnFallback(t *testing.T) {
	s, _ := connServer(t, Options{})
	rc := dialRaw(t, s)
	rc.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := rc.read(http.MethodGet); body != "GET /fast " {
		t.Fatalf("fast: %q", body)
	}
	rc.send("POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"PUT /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if resp, body := rc.read(http.MethodPost); resp.StatusCode != 200 || body != "POST /post hello" {
		t.Errorf("post: %d %q", resp.StatusCode, body)
	}
	if _, body := rc.read(http.MethodPut); body != "PUT /chunked abc" {
		t.Errorf("chunked: %q", body)
	}
	rc.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := rc.read(http.MethodGet); body != "GET /after " {
		t.Errorf("after: %q", body)
	}

	// A head with bare LFs, which net/http reads, goes to it at once.
	bare := dialRaw(t, s)
	bare.send("GET /bare HTTP/1.1\nHost: x\n\n")
	if resp, body := bare.read(http.MethodGet); resp.StatusCode != 200 || body != "GET /bare " {
		t.Errorf("bare LF: %d %q", resp.StatusCode, body)
	}
}

// TestConnMalformed answers malformed requests with net/http's 400.
func TestConnMalformed(t *testing.T) {
	s, be := connServer(t, Options{})
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n", // no Host
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
	} {
		before := be.requests.Load()
		rc := dialRaw(t, s)
		rc.send(req)
		if resp, _ := rc.read(http.MethodGet); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: %d, want 400", req, resp.StatusCode)
		}
		if be.requests.Load() != before {
			t.Errorf("%q reached the target", req)
		}
	}
}

// TestConnSlowHeader closes a connection whose request head does not come
// in time.
func TestConnSlowHeader(t *testing.T) {
	s, be := connServer(t, Options{ReadHeaderTimeout: 50 * time.Millisecond})
	rc := dialRaw(t, s)
	rc.send("GET / HTTP/1.1\r\nHost: x\r\n")
	if !rc.closed() {
		t.Error("connection open with its request head unfinished")
	}
	if n := be.requests.Load(); n != 0 {
		t.Errorf("target got %d requests", n)
	}
}

// TestConnIdleTimeout closes a connection idle between requests for the
// client idle timeout, and not one whose requests keep coming sooner.
func TestConnIdleTimeout(t *testing.T) {
	s, _ := connServer(t, Options{ClientIdleTimeout: 150 * time.Millisecond})
	busy, idle := dialRaw(t, s), dialRaw(t, s)
	idle.send("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := idle.read(http.MethodGet); resp.StatusCode != 200 {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	busy.keepBusy(9, 50*time.Millisecond) // for three idle timeouts
	if !idle.closed() {
		t.Error("connection open after the idle timeout")
	}
	busy.keepBusy(1, 0)
}

// keepBusy sends n requests, pausing for gap after each, and fails the
// test unless each is answered with 200.
func (rc *rawConn) keepBusy(n int, gap time.Duration) {
	rc.t.Helper()
	for range n {
		rc.send("GET /busy HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := rc.read(http.MethodGet); resp.StatusCode != 200 {
			rc.t.Fatalf("busy connection: %d %q", resp.StatusCode, body)
		}
		time.Sleep(gap)
	}
}

// TestLoadBalancerIdleTimeout applies the load balancer's idle timeout,
// changed while connections are open, to those the socket serves itself
// and to those net/http serves (here, after a request with a body).
func TestLoadBalancerIdleTimeout(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	be := echoBackend(t)
	tg := group("tg", be)
	cfg := oneListener(forward(tg.ARN), nil, tg)
	mustUpdate(t, s, cfg)
	waitState(t, s, tg.ARN, StateHealthy, be)

	fast, handed, busy := dialRaw(t, s), dialRaw(t, s), dialRaw(t, s)
	fast.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	handed.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	if resp, body := fast.read(http.MethodGet); resp.StatusCode != 200 {
		t.Fatalf("GET: %d %q", resp.StatusCode, body)
	}
	if resp, body := handed.read(http.MethodPost); resp.StatusCode != 200 || body != "POST / hi" {
		t.Fatalf("POST: %d %q", resp.StatusCode, body)
	}

	cfg.LoadBalancers[0].IdleTimeoutSeconds = 1
	mustUpdate(t, s, cfg)
	busy.keepBusy(12, 250*time.Millisecond) // for three idle timeouts
	if !fast.closed() {
		t.Error("connection served by the socket open after the idle timeout")
	}
	if !handed.closed() {
		t.Error("connection served by net/http open after the idle timeout")
	}
	busy.keepBusy(1, 0)
}

// TestConnRetire lets the request in flight on a removed listener finish,
// then closes its connection, and closes idle connections at once.
func TestConnRetire(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	a, _, slowAt, release := slowPair(t)
	tg := group("tg", a)
	cfg := oneListener(forward(tg.ARN), nil, tg)
	mustUpdate(t, s, cfg)
	waitState(t, s, tg.ARN, StateHealthy, a)
	busy, idle := dialRaw(t, s), dialRaw(t, s)
	idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read(http.MethodGet)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-slowAt
	mustUpdate(t, s, Config{LoadBalancers: cfg.LoadBalancers})
	if !idle.closed() {
		t.Error("idle connection open after its listener was removed")
	}
	release <- struct{}{}
	resp, body := busy.read(http.MethodGet)
	if resp.StatusCode != 200 || body != "a" || !resp.Close {
		t.Errorf("in-flight request: %d %q close %v", resp.StatusCode, body, resp.Close)
	}
	if !busy.closed() {
		t.Error("connection open after its request on a removed listener")
	}
}

// TestConnClientGone cancels the request to the target when the client
// goes away.
func TestConnClientGone(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	a, _, slowAt, _ := slowPair(t)
	canceled := make(chan struct{})
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		slowAt <- "a"
		<-r.Context().Done()
		close(canceled)
	})
	tg := group("tg", a)
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	waitState(t, s, tg.ARN, StateHealthy, a)
	rc := dialRaw(t, s)
	rc.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-slowAt
	rc.c.Close()
	<-canceled
}

func TestParseSimple(t *testing.T) {
	for _, tc := range []struct {
		head   string
		simple bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"GET /p?q=1 HTTP/1.0\r\n\r\n", true},
		{"OPTIONS / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", false},
		{"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"GET / HTTP/2.0\r\nHost: x\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x y\r\n\r\n", false},
	} {
		c1, c2 := net.Pipe()
		cc := newClientConn(&socket{}, c1)
		c1.Close()
		c2.Close()
		if got := cc.parse([]byte(tc.head)); got != tc.simple {
			t.Errorf("%q: simple %v, want %v", strings.TrimSpace(tc.head), got, tc.simple)
		}
	}
}

// FuzzParse holds the fast loop's request parser to net/http's: on any
// request head it must not panic, and a head it takes as simple must be one
// http.ReadRequest reads as the same request (method, URI, host, protocol,
// headers), so the fast path never serves something net/http would have
// refused or read otherwise.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /p?q=1 HTTP/1.0\r\n\r\n",
		"HEAD /a/b HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		f.Add(s)
	}
	c1, c2 := net.Pipe()
	c1.Close()
	c2.Close()
	cc := newClientConn(&socket{}, c1) // reused, as a connection reuses its buffers
	f.Fuzz(func(t *testing.T, s string) {
		if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
			s = s[:i]
		}
		head := s + "\r\n\r\n" // a head ends at its first empty line
		if !cc.parse([]byte(head)) {
			return
		}
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			t.Fatalf("%q: simple to the fast parser, refused by net/http: %v", head, err)
		}
		got := cc.req
		if got.Method != want.Method || got.RequestURI != want.RequestURI || got.Host != want.Host ||
			got.ProtoMinor != want.ProtoMinor || got.Close != want.Close || want.ContentLength > 0 || len(want.TransferEncoding) > 0 ||
			*got.URL != *want.URL {
			t.Fatalf("%q: fast parser read %s %s host %q 1.%d close %v; net/http %s %s host %q 1.%d close %v length %d te %v", head,
				got.Method, got.RequestURI, got.Host, got.ProtoMinor, got.Close,
				want.Method, want.RequestURI, want.Host, want.ProtoMinor, want.Close, want.ContentLength, want.TransferEncoding)
		}
		for k, v := range want.Header {
			if k == "Host" {
				continue
			}
			if strings.Join(got.Header[k], "\x00") != strings.Join(v, "\x00") {
				t.Fatalf("%q: header %s: fast parser %q, net/http %q", head, k, got.Header[k], v)
			}
		}
	})
}

// TestConnLeavesLoop checks that a connection served by an event loop
// moves to a goroutine of its own before a request that would block the
// loop (here: to a target named by a host name, which takes a DNS lookup),
// and goes on serving on the same connection afterwards.
func TestConnLeavesLoop(t *testing.T) {
	if !loopsSupported {
		t.Skip("event loops are Linux's")
	}
	s, _ := newTestServer(t, Options{EventLoops: 2}) // also when the other tests run without
	byIP, byName := newBackend(t, "ip"), newBackend(t, "name")
	ipGroup, nameGroup := group("ip", byIP), group("name", byName)
	nameGroup.Targets[0].Address = "localhost"
	rules := []Rule{{ARN: ruleARN(1), Priority: 1, Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/name*"}}},
		Actions: forward(nameGroup.ARN)}}
	mustUpdate(t, s, oneListener(forward(ipGroup.ARN), rules, ipGroup, nameGroup))
	waitState(t, s, ipGroup.ARN, StateHealthy, byIP)
	waitState(t, s, nameGroup.ARN, StateHealthy, byName)

	onLoop := func() bool {
		k := s.sockets[listenerARN]
		k.fast.mu.Lock()
		defer k.fast.mu.Unlock()
		if len(k.fast.conns) != 1 {
			t.Fatalf("%d connections served, want 1", len(k.fast.conns))
		}
		for cc := range k.fast.conns {
			return cc.lc != nil
		}
		return false
	}
	rc := dialRaw(t, s)
	for i, tc := range []struct {
		path    string
		backend *backend
		onLoop  bool
	}{{"/ip", byIP, true}, {"/ip", byIP, true}, {"/name", byName, false}, {"/ip", byIP, false}} {
		before := tc.backend.requests.Load()
		rc.send("GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := rc.read(http.MethodGet); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d (%s): status %d", i, tc.path, resp.StatusCode)
		}
		if tc.backend.requests.Load() != before+1 {
			t.Fatalf("request %d (%s) did not reach backend %s", i, tc.path, tc.backend.name)
		}
		s.mu.Lock()
		got := onLoop()
		s.mu.Unlock()
		if got != tc.onLoop {
			t.Fatalf("after request %d (%s): on an event loop %v, want %v", i, tc.path, got, tc.onLoop)
		}
	}
}

// TestConnCloseAfterAnswer checks that a connection whose request asked
// for "Connection: close" is closed after the answer, every time: with one
// event loop, the close posted by a connection's first run once waited for
// an unrelated event.
func TestConnCloseAfterAnswer(t *testing.T) {
	opts := Options{}
	if loopsSupported && testEventLoops >= 0 {
		opts.EventLoops = 1
	}
	s, _ := newTestServer(t, opts)
	fixed := []Action{{Type: ActionFixedResponse, FixedResponseConfig: &FixedResponseConfig{
		StatusCode: "200", ContentType: "text/plain", MessageBody: "fixed"}}}
	mustUpdate(t, s, oneListener(fixed, nil))
	for i := range 50 {
		rc := dialRaw(t, s)
		rc.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if resp, body := rc.read(http.MethodGet); resp.StatusCode != http.StatusOK || body != "fixed" {
			t.Fatalf("connection %d: %d %q", i, resp.StatusCode, body)
		}
		if n, err := rc.br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("connection %d: read after the answer: %d bytes, %v; want the connection closed", i, n, err)
		}
	}
}

// TestConnHalfClose checks that a client that shuts its side of the
// connection down after its request still gets the target's answer, as
// from net/http.
func TestConnHalfClose(t *testing.T) {
	s, _ := connServer(t, Options{})
	for i := range 20 {
		rc := dialRaw(t, s)
		rc.send("GET /half HTTP/1.1\r\nHost: x\r\n\r\n")
		if err := rc.c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp, body := rc.read(http.MethodGet)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "/half") {
			t.Fatalf("request %d: %d %q, want the backend's answer", i, resp.StatusCode, body)
		}
	}
}

// FuzzParseOriginForm holds parseOriginForm to url.ParseRequestURI: a
// target it takes is one ParseRequestURI reads as the same URL.
func FuzzParseOriginForm(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b.c?x=1&y=2", "/shop/cart?", "/a??", "//two", "/a%20b", "/caf\xc3\xa9", "/a b",
		"/a#frag", "/!*'()", "/$&+,:;=@-._~", "?x", "", "/q?a b", "/q?a\x7f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var u url.URL
		if !parseOriginForm(s, &u) {
			return
		}
		want, err := url.ParseRequestURI(s)
		if err != nil {
			t.Fatalf("%q: taken by parseOriginForm, refused by url.ParseRequestURI: %v", s, err)
		}
		if u != *want {
			t.Fatalf("%q: parseOriginForm %#v, url.ParseRequestURI %#v", s, u, *want)
		}
	})
}

// TestOwnStrings checks that the copy of a request handed to
// httputil.ReverseProxy keeps its values when its connection's copy of
// the head is overwritten by the next request.
func TestOwnStrings(t *testing.T) {
	cc := &clientConn{req: new(http.Request), remote: "10.0.0.2:5000"}
	cc.w.cc = cc
	head := "GET /a/b?q=1 HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-For: 10.0.0.1\r\nAccept: */*\r\n\r\n"
	if !cc.parse([]byte(head)) {
		t.Fatal("simple request not parsed")
	}
	setForwarded(cc.req, []string{"http"}, []string{"80"}, time.Unix(1700000000, 0), &cc.fwd)
	r := ownStrings(cc.req)
	want := fmt.Sprint(r.Method, r.Host, r.RequestURI, r.URL.String(), r.Header)
	for i := range cc.head {
		cc.head[i] = 'Z'
	}
	cc.fwd = fwdScratch{}
	if got := fmt.Sprint(r.Method, r.Host, r.RequestURI, r.URL.String(), r.Header); got != want {
		t.Fatalf("after the next request: %s, was %s", got, want)
	}
	if r.Host != "shop.example" || r.URL.Path != "/a/b" || r.URL.RawQuery != "q=1" ||
		!strings.HasPrefix(r.Header.Get("X-Amzn-Trace-Id"), "Root=1-") {
		t.Fatalf("request %s %s %v", r.Host, r.URL, r.Header)
	}
}

// TestLoopsLeaveAProcessor: GOMAXPROCS is one more than a Server's event
// loops, so that the rest of the program has a processor while every loop
// waits in epoll_wait (loop_linux.go, wait); the default number of loops
// stays what it was however often that raised GOMAXPROCS.
func TestLoopsLeaveAProcessor(t *testing.T) {
	if !loopsSupported {
		t.Skip("event loops are Linux's")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	for _, tc := range []struct{ loops, want int }{{2, 3}, {4, 5}, {1, 5}} {
		s, _ := newTestServer(t, Options{EventLoops: tc.loops})
		if got := len(s.deps.loops); got != tc.loops {
			t.Fatalf("%d loops, want %d", got, tc.loops)
		}
		if got := runtime.GOMAXPROCS(0); got != tc.want {
			t.Errorf("with %d loops: GOMAXPROCS %d, want %d", tc.loops, got, tc.want)
		}
	}
	for range 2 {
		s := New(Options{Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(testOutput(t), nil))})
		got := len(s.deps.loops)
		s.Close()
		if want := procsBefore(); got != want || want < 1 {
			t.Errorf("%d loops by default, want %d (GOMAXPROCS before any loops)", got, want)
		}
	}
	if got, want := runtime.GOMAXPROCS(0), max(5, procsBefore()+1); got != want {
		t.Errorf("GOMAXPROCS %d after the default servers, want %d", got, want)
	}
}
