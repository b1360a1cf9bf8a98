package lb

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"

	"github.com/flotilla/flotilla/internal/testport"
)

// TestUpdateKeepsInFlight changes the rules, then removes the listener and
// its target group, each while a request is in flight: the requests
// complete, and an unchanged listener keeps its socket and connections.
func TestUpdateKeepsInFlight(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	a, b, slowAt, release := slowPair(t)
	_ = b
	tg := group("tg", a)
	cfg := oneListener(forward(tg.ARN), nil, tg)
	mustUpdate(t, s, cfg)
	base := baseURL(t, s, listenerARN)
	addr := s.Addr(listenerARN).String()
	c := newClient(t)
	get(t, c, base+"/") // a connection to reuse

	// 1. New rules; the listener is unchanged.
	slow := make(chan response, 1)
	go func() { slow <- get(t, newClient(t), base+"/slow") }()
	<-slowAt
	cfg.Rules = []Rule{{ARN: ruleARN(1), ListenerARN: listenerARN, Priority: 1,
		Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/new"}}}, Actions: fixed("200", "new rule")}}
	mustUpdate(t, s, cfg)
	if got := s.Addr(listenerARN).String(); got != addr {
		t.Errorf("listener moved from %s to %s", addr, got)
	}
	var reused bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/new", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !reused {
		t.Error("the client's keep-alive connection did not survive the update")
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("new rule not applied: %d", resp.StatusCode)
	}
	release <- struct{}{}
	if r := <-slow; r.code != 200 || r.body != "a" {
		t.Errorf("in-flight request across a rules update: %d %q", r.code, r.body)
	}

	// 2. The listener and its target group go away.
	go func() { slow <- get(t, newClient(t), base+"/slow") }()
	<-slowAt
	mustUpdate(t, s, Config{LoadBalancers: cfg.LoadBalancers})
	if s.Addr(listenerARN) != nil {
		t.Error("removed listener still has a socket")
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Error("removed listener still accepts connections")
	}
	release <- struct{}{}
	if r := <-slow; r.code != 200 || r.body != "a" {
		t.Errorf("in-flight request across the listener's removal: %d %q", r.code, r.body)
	}
}

// TestListenerLifecycle adds, moves and removes listeners.
func TestListenerLifecycle(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	second := "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/test/1/2"
	cfg := oneListener(fixed("200", "one"), nil)
	mustUpdate(t, s, cfg)
	c := newClient(t)

	cfg.Listeners = append(cfg.Listeners, Listener{ARN: second, LoadBalancerARN: lbARN, Protocol: ProtocolHTTP, DefaultActions: fixed("200", "two")})
	mustUpdate(t, s, cfg)
	if r := get(t, c, baseURL(t, s, second)+"/"); r.body != "two" {
		t.Errorf("second listener: %q", r.body)
	}
	if r := get(t, c, baseURL(t, s, listenerARN)+"/"); r.body != "one" {
		t.Errorf("first listener: %q", r.body)
	}

	// Move the second listener to a chosen port.
	old := s.Addr(second).String()
	port := testport.Free(t)
	cfg.Listeners[1].Port = port
	mustUpdate(t, s, cfg)
	if got := s.Addr(second).(*net.TCPAddr).Port; got != port {
		t.Errorf("listener on port %d, want %d", got, port)
	}
	if conn, err := net.Dial("tcp", old); err == nil {
		conn.Close()
		t.Error("the old port still accepts connections")
	}
	if r := get(t, c, baseURL(t, s, second)+"/"); r.body != "two" {
		t.Errorf("moved listener: %q", r.body)
	}

	// A listener whose port is taken is reported, the rest applied, and
	// it opens once the port is free.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listeners[1].Port = ln.Addr().(*net.TCPAddr).Port
	cfg.Listeners[0].DefaultActions = fixed("200", "one, updated")
	if err := s.Update(cfg); err == nil || !strings.Contains(err.Error(), second) {
		t.Errorf("Update with a taken port: %v", err)
	}
	if r := get(t, c, baseURL(t, s, listenerARN)+"/"); r.body != "one, updated" {
		t.Errorf("first listener not updated: %q", r.body)
	}
	ln.Close()
	mustUpdate(t, s, cfg)
	if r := get(t, c, baseURL(t, s, second)+"/"); r.body != "two" {
		t.Errorf("listener opened late: %q", r.body)
	}
}

// TestUpdateInvalid checks that an invalid configuration changes nothing.
func TestUpdateInvalid(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	mustUpdate(t, s, oneListener(fixed("200", "good"), nil))
	bad := oneListener(fixed("200", "bad"), []Rule{{Priority: 0, Actions: fixed("200", "x")}})
	if err := s.Update(bad); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Update(invalid) = %v, want ErrInvalidConfig", err)
	}
	if r := get(t, newClient(t), baseURL(t, s, listenerARN)+"/"); r.body != "good" {
		t.Errorf("after an invalid update: %q", r.body)
	}
}

// TestRunShutdown checks that Run, once its context ends, lets requests in
// flight finish and then refuses updates.
func TestRunShutdown(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	a, _, slowAt, release := slowPair(t)
	mustUpdate(t, s, oneListener(forward(tgARN("tg")), nil, group("tg", a)))
	base := baseURL(t, s, listenerARN)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	slow := make(chan response, 1)
	go func() { slow <- get(t, newClient(t), base+"/slow") }()
	<-slowAt
	cancel()
	waitFor(t, "the listener to stop accepting", func() bool {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	close(release)
	if r := <-slow; r.code != 200 {
		t.Errorf("in-flight request during shutdown: %d", r.code)
	}
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if err := s.Update(oneListener(fixed("200", "x"), nil)); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after shutdown = %v, want ErrClosed", err)
	}
}

// TestMetrics checks the request counts and the connection gauge.
func TestMetrics(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	web := newBackend(t, "web")
	web.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	})
	rules := []Rule{{Priority: 1, Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/fixed"}}}, Actions: fixed("500", "x")}}
	mustUpdate(t, s, oneListener(forward(tgARN("web")), rules, group("web", web)))
	c := newClient(t)
	base := baseURL(t, s, listenerARN)
	for range 3 {
		get(t, c, base+"/")
	}
	get(t, c, base+"/missing")
	get(t, c, base+"/fixed")
	m := s.deps.metrics
	for _, tt := range []struct {
		tg, source, class string
		want              float64
	}{
		{tgARN("web"), "target", "2xx", 3},
		{tgARN("web"), "target", "4xx", 1},
		{tgARN("web"), "lb", "5xx", 0},
		{"", "lb", "5xx", 1},
	} {
		if got := value(m.requests.WithLabelValues(lbARN, tt.tg, tt.source, tt.class)); got != tt.want {
			t.Errorf("requests{%q, %s, %s} = %v, want %v", tt.tg, tt.source, tt.class, got, tt.want)
		}
	}
	if got := value(m.connections.WithLabelValues(lbARN)); got != 1 {
		t.Errorf("active connections = %v, want 1", got)
	}
	if got := value(m.targets.WithLabelValues(tgARN("web"), StateInitial)) + value(m.targets.WithLabelValues(tgARN("web"), StateHealthy)); got != 1 {
		t.Errorf("targets initial+healthy = %v, want 1", got)
	}
}
