package lb

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/testcert"
)

// TestHeadTimeoutIsIdleTimeout closes a connection whose request head
// does not come within the load balancer's idle timeout, when the options
// set no header timeout: a head the socket reads itself, and one too large
// for it, which net/http reads.
func TestHeadTimeoutIsIdleTimeout(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	be := echoBackend(t)
	tg := group("tg", be)
	cfg := oneListener(forward(tg.ARN), nil, tg)
	cfg.LoadBalancers[0].IdleTimeoutSeconds = 1
	mustUpdate(t, s, cfg)
	waitState(t, s, tg.ARN, StateHealthy, be)

	for name, head := range map[string]string{
		"fast":     "GET / HTTP/1.1\r\nHost: x\r\n",
		"net/http": "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 2*clientBufSize) + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			rc := dialRaw(t, s)
			// Far less than Options' 60 s of old, far more than the load
			// balancer's 1 s: only keeps a broken server from passing late.
			_ = rc.c.SetDeadline(time.Now().Add(20 * time.Second))
			rc.send(head)
			if !rc.closed() {
				t.Error("connection open with its request head unfinished past the idle timeout")
			}
		})
	}
	if n := be.requests.Load(); n != 0 {
		t.Errorf("target got %d requests", n)
	}
}

// TestMaxConns stops accepting at the bound on client connections, and
// serves the connection waiting in the backlog once one closes.
func TestMaxConns(t *testing.T) {
	s, _ := connServer(t, Options{MaxConns: 2})
	a, b := dialRaw(t, s), dialRaw(t, s)
	for _, rc := range []*rawConn{a, b} {
		rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := rc.read(http.MethodGet); resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	}
	waiting := dialRaw(t, s) // connected, in the backlog
	waiting.send("GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
	// A bound that works never answers here, however long the wait.
	_ = waiting.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := waiting.br.Peek(1); err == nil {
		t.Fatal("a third connection was served with two open and MaxConns 2")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("third connection: %v", err)
	}
	_ = waiting.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	a.c.Close()
	if resp, body := waiting.read(http.MethodGet); resp.StatusCode != 200 || body != "GET /third " {
		t.Fatalf("third connection, once one closed: %d %q", resp.StatusCode, body)
	}
	b.keepBusy(1, 0)
}

// TestRetryRefused sends a request whose target refuses the connection to
// another target of the group: none fails while one target of two is
// down, by the short way (GET) or through ReverseProxy (DELETE).
func TestRetryRefused(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	up, down := newBackend(t, "up"), newBackend(t, "down")
	down.srv.Close() // its port refuses connections
	up.health.Store(http.StatusInternalServerError)
	tg := group("tg", up, down) // both unhealthy: the group fails open
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	waitState(t, s, tg.ARN, StateUnhealthy, up, down)

	c := newClient(t)
	url := baseURL(t, s, listenerARN)
	for i := range 20 {
		for _, m := range []string{http.MethodGet, http.MethodDelete} {
			if r := do(t, c, m, url+"/x", nil); r.code != 200 || r.body != "up" {
				t.Fatalf("%s %d: %d %q", m, i, r.code, r.body)
			}
		}
	}
	if n := up.requests.Load(); n != 40 {
		t.Errorf("up got %d requests, want 40", n)
	}
}

// TestMaxConnsHTTPS holds an HTTPS listener's connections to the bound as
// well: the TLS handshake of a connection past it waits until one closes.
func TestMaxConnsHTTPS(t *testing.T) {
	cert, _ := testcert.Pair(t, "default.example")
	s, _ := newTestServer(t, Options{MaxConns: 1, Certificates: func(string) (*tls.Certificate, error) { return cert, nil }})
	mustUpdate(t, s, oneHTTPSListener(group("echo", newBackend(t, "echo")), "cert/default"))
	addr := s.Addr(listenerARN).String()
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	handshake := func() error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(60 * time.Second)) // keeps a broken server from hanging the test
		return tls.Client(c, &tls.Config{InsecureSkipVerify: true}).Handshake()
	}
	done := make(chan error, 1)
	go func() { done <- handshake() }()
	select {
	case err := <-done:
		t.Fatalf("a second connection was served with one open and MaxConns 1 (handshake: %v)", err)
	case <-time.After(300 * time.Millisecond): // a bound that works never serves it
	}
	first.Close()
	if err := <-done; err != nil {
		t.Fatalf("handshake once the first connection closed: %v", err)
	}
}

// TestRetryNoResponse sends a GET whose target closes the connection
// without answering (as Docker's proxy does for a killed container) to
// another target, and a POST, which the target may have acted on, not.
func TestRetryNoResponse(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	up := newBackend(t, "up")
	closer := newBackend(t, "closer")
	closer.setHandler(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	})
	tg := group("tg", up, closer)
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	waitState(t, s, tg.ARN, StateHealthy, up, closer)

	c := newClient(t)
	url := baseURL(t, s, listenerARN)
	for i := range 20 {
		if r := do(t, c, http.MethodGet, url+"/x", nil); r.code != 200 || r.body != "up" {
			t.Fatalf("GET %d: %d %q", i, r.code, r.body)
		}
	}
	if n := closer.requests.Load(); n == 0 {
		t.Fatal("no GET reached the target that closes")
	}
	var bad int
	for range 20 {
		resp, err := c.Post(url+"/x", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway {
			bad++
		}
	}
	if bad == 0 {
		t.Error("no POST answered 502 of 20, half of them to a target that closes without answering")
	}
}

// upgradeBackend answers every request with a protocol upgrade, then
// echoes what comes through the tunnel until its client closes it.
func upgradeBackend(t *testing.T) *backend {
	be := newBackend(t, "ws")
	be.setHandler(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		if brw.Flush() == nil {
			_, _ = io.Copy(c, brw)
		}
	})
	return be
}

// TestMaxConnsUpgrade counts an upgraded connection against the bound for
// as long as it is open, not only until its 101: with two upgraded, a
// third connection waits in the backlog, and is served once one of them
// closes; on a plain HTTP listener and on an HTTPS one.
func TestMaxConnsUpgrade(t *testing.T) {
	for _, proto := range []string{ProtocolHTTP, ProtocolHTTPS} {
		t.Run(proto, func(t *testing.T) {
			cert, _ := testcert.Pair(t, "default.example")
			s, _ := newTestServer(t, Options{MaxConns: 2, Certificates: func(string) (*tls.Certificate, error) { return cert, nil }})
			be := upgradeBackend(t)
			tg := group("tg", be)
			cfg := oneListener(forward(tg.ARN), nil, tg)
			if proto == ProtocolHTTPS {
				cfg = oneHTTPSListener(tg, "cert/default")
			}
			mustUpdate(t, s, cfg)
			waitState(t, s, tg.ARN, StateHealthy, be)
			dial := func() *rawConn {
				rc := dialRaw(t, s)
				if proto == ProtocolHTTPS {
					tc := tls.Client(rc.c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
					rc.c, rc.br = tc, bufio.NewReader(tc)
				}
				return rc
			}
			upgrade := func(rc *rawConn) {
				t.Helper()
				rc.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
				resp, err := http.ReadResponse(rc.br, &http.Request{Method: http.MethodGet})
				if err != nil {
					t.Fatalf("upgrade: %v", err)
				}
				if resp.StatusCode != http.StatusSwitchingProtocols {
					t.Fatalf("upgrade: %d", resp.StatusCode)
				}
				rc.send("ping\n")
				if line, err := rc.br.ReadString('\n'); err != nil || line != "ping\n" {
					t.Fatalf("through the upgraded connection: %q %v", line, err)
				}
			}
			a, b := dial(), dial()
			upgrade(a)
			upgrade(b)
			waiting := dialRaw(t, s) // plain TCP: for HTTPS, its handshake waits
			if proto == ProtocolHTTP {
				waiting.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			} else {
				waiting.send("\x16\x03\x01\x00\x05hello") // a TLS record head: the server answers something
			}
			// A bound that works never answers here, however long the wait.
			_ = waiting.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if _, err := waiting.br.Peek(1); err == nil {
				t.Fatal("a third connection was served with two upgraded connections open and MaxConns 2")
			} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				t.Fatalf("third connection: %v", err)
			}
			waiting.c.Close()
			a.c.Close()
			third := dial()
			upgrade(third)
		})
	}
}

// TestConnLimitShared bounds the client connections of two Servers given
// one ConnLimit together: with the one slot taken by a connection to the
// first, a connection to the second waits until it closes.
func TestConnLimitShared(t *testing.T) {
	limit := NewConnLimit(1)
	first, _ := connServer(t, Options{ConnLimit: limit})
	second, _ := connServer(t, Options{ConnLimit: limit})
	a := dialRaw(t, first)
	a.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := a.read(http.MethodGet); resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	waiting := dialRaw(t, second)
	waiting.send("GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
	// A bound that works never answers here, however long the wait.
	_ = waiting.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := waiting.br.Peek(1); err == nil {
		t.Fatal("the second Server served a connection with the first holding the one slot of their limit")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("connection to the second Server: %v", err)
	}
	_ = waiting.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	a.c.Close()
	if resp, body := waiting.read(http.MethodGet); resp.StatusCode != 200 || body != "GET /second " {
		t.Fatalf("connection to the second Server, once the first's closed: %d %q", resp.StatusCode, body)
	}
}

// TestConnLimitOptions refuses MaxConns with a ConnLimit, which would
// otherwise be ignored, and gives a Server without either its own bound.
func TestConnLimitOptions(t *testing.T) {
	if err := (Options{MaxConns: 2, ConnLimit: NewConnLimit(2)}).Validate(); err == nil {
		t.Error("Validate accepted MaxConns with a ConnLimit")
	}
	if got := (Options{MaxConns: 3}).withDefaults().ConnLimit.Max(); got != 3 {
		t.Errorf("MaxConns 3: bound %d", got)
	}
	if got := (Options{MaxConns: -1}).withDefaults().ConnLimit.Max(); got != 0 {
		t.Errorf("MaxConns -1: bound %d, want none", got)
	}
	if got, want := (Options{}).withDefaults().ConnLimit.Max(), defaultMaxConns(); got != want {
		t.Errorf("MaxConns 0: bound %d, want %d", got, want)
	}
}
