package lbnode_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/lbnode"
)

// memSource is a Source in memory: the test sets the configuration, and
// reads the reports.
type memSource struct {
	mu       sync.Mutex
	cfg      lb.Config
	rev      int64
	fail     error
	changed  chan struct{}
	reports  []lbnode.Report
	reported chan struct{}
}

func newMemSource() *memSource {
	return &memSource{changed: make(chan struct{}), reported: make(chan struct{})}
}

func (s *memSource) set(cfg lb.Config, rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg, s.rev = cfg, rev
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *memSource) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *memSource) Config(ctx context.Context, after int64) (lb.Config, int64, error) {
	for {
		s.mu.Lock()
		cfg, rev, fail, changed := s.cfg, s.rev, s.fail, s.changed
		s.mu.Unlock()
		if fail != nil {
			return lb.Config{}, 0, fail
		}
		if rev > after {
			return cfg, rev, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return lb.Config{}, 0, ctx.Err()
		}
	}
}

func (s *memSource) Report(_ context.Context, r lbnode.Report) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.reports = append(s.reports, r)
	close(s.reported)
	s.reported = make(chan struct{})
	return nil
}

// waitReport waits for a report for which ok holds and returns it.
func (s *memSource) waitReport(t *testing.T, what string, ok func(lbnode.Report) bool) lbnode.Report {
	t.Helper()
	// A deadline that only a missing report reaches.
	deadline := time.After(time.Minute)
	seen := 0
	for {
		s.mu.Lock()
		reports, reported := s.reports[seen:], s.reported
		seen = len(s.reports)
		s.mu.Unlock()
		for _, r := range reports {
			if ok(r) {
				return r
			}
		}
		select {
		case <-reported:
		case <-deadline:
			s.mu.Lock()
			last := s.reports[len(s.reports)-1:]
			s.mu.Unlock()
			t.Fatalf("no report with %s; last %+v", what, last)
		}
	}
}

func stateOf(r lbnode.Report, tg string, port int) string {
	for _, h := range r.Groups[tg] {
		if h.Target.Port == port {
			return h.State
		}
	}
	return ""
}

// backend is a target: GET / answers its name, GET /slow answers once
// released, saying it arrived first.
type backend struct {
	name    string
	port    int
	arrived chan struct{}
	release chan struct{}
}

func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name, arrived: make(chan struct{}, 10), release: make(chan struct{})}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			b.arrived <- struct{}{}
			<-b.release
		}
		io.WriteString(w, b.name)
	}))
	t.Cleanup(hs.Close)
	u, err := url.Parse(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	b.port, _ = strconv.Atoi(u.Port())
	return b
}

// TestNode: a node serves the configuration its source gives, reports
// its targets' health as it changes (and only then: the heartbeat is off),
// reports a deregistered target draining until its last request is done,
// and keeps serving while the source is unreachable.
// TestNodeListenerErrors reports a listener whose port is taken on the
// node, and logs it once however many configurations come meanwhile; and
// no longer once the port is free.
func TestNodeListenerErrors(t *testing.T) {
	const (
		lbARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/front/1"
		lnARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/front/1/1"
	)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := lb.Config{
		LoadBalancers: []lb.LoadBalancer{{ARN: lbARN, Name: "front"}},
		Listeners: []lb.Listener{{ARN: lnARN, LoadBalancerARN: lbARN, Protocol: lb.ProtocolHTTP, Port: taken.Addr().(*net.TCPAddr).Port,
			DefaultActions: []lb.Action{{Type: lb.ActionFixedResponse, FixedResponseConfig: &lb.FixedResponseConfig{StatusCode: "200"}}}}},
	}
	src := newMemSource()
	var logs lockedBuffer
	node, err := lbnode.NewNode(lbnode.NodeConfig{ID: "n1", Source: src, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Heartbeat: time.Hour,
		LB: lb.Options{ShutdownTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	src.set(cfg, 10)
	r := src.waitReport(t, "the listener's error at revision 10", func(r lbnode.Report) bool { return r.AppliedRevision == 10 })
	if why := r.ListenerErrors[lnARN]; !strings.Contains(why, "address already in use") {
		t.Errorf("listener errors %q, want the listener's port in use", r.ListenerErrors)
	}
	src.set(cfg, 11) // and again, the port still taken
	r = src.waitReport(t, "revision 11", func(r lbnode.Report) bool { return r.AppliedRevision == 11 })
	if _, ok := r.ListenerErrors[lnARN]; !ok {
		t.Errorf("listener errors %q at revision 11, want the listener's", r.ListenerErrors)
	}
	if n := strings.Count(logs.String(), "listener cannot open"); n != 1 {
		t.Errorf("the listener's error logged %d times over two configurations, want once", n)
	}
	taken.Close()
	src.set(cfg, 12)
	r = src.waitReport(t, "revision 12", func(r lbnode.Report) bool { return r.AppliedRevision == 12 })
	if len(r.ListenerErrors) != 0 || node.Server().Addr(lnARN) == nil {
		t.Errorf("listener errors %q once the port is free, listener open: %v", r.ListenerErrors, node.Server().Addr(lnARN) != nil)
	}
}

// lockedBuffer is a bytes.Buffer for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestNode(t *testing.T) {
	const (
		lbARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/front/1"
		lnARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/front/1/1"
		tgARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1"
	)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	config := func(backends ...*backend) lb.Config {
		tg := lb.TargetGroup{ARN: tgARN, Protocol: lb.ProtocolHTTP, Port: 80, TargetType: lb.TargetTypeIP,
			HealthCheck: lb.HealthCheck{IntervalSeconds: 0.05, TimeoutSeconds: 0.04, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2}}
		for _, be := range backends {
			tg.Targets = append(tg.Targets, lb.Target{ID: "127.0.0.1", Port: be.port})
		}
		return lb.Config{
			LoadBalancers: []lb.LoadBalancer{{ARN: lbARN, Name: "front"}},
			Listeners: []lb.Listener{{ARN: lnARN, LoadBalancerARN: lbARN, Protocol: lb.ProtocolHTTP,
				DefaultActions: []lb.Action{{Type: lb.ActionForward, TargetGroupARN: tgARN}}}},
			TargetGroups: []lb.TargetGroup{tg},
		}
	}
	src := newMemSource()
	node, err := lbnode.NewNode(lbnode.NodeConfig{ID: "n1", Source: src, Logger: quiet, Heartbeat: time.Hour,
		LB: lb.Options{MinHealthCheckInterval: time.Millisecond, ShutdownTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	src.set(config(a, b), 10)
	src.waitReport(t, "both targets healthy at revision 10", func(r lbnode.Report) bool {
		return r.Node == "n1" && r.AppliedRevision == 10 &&
			stateOf(r, tgARN, a.port) == lb.StateHealthy && stateOf(r, tgARN, b.port) == lb.StateHealthy
	})
	base := "http://" + node.Server().Addr(lnARN).String()
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	seen := map[string]bool{}
	for range 10 {
		seen[get("/")] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("requests reached %v, want both backends", seen)
	}

	// b gets a request that waits, then is deregistered: it drains.
	slow := make(chan string, 1)
	go func() {
		for {
			resp, err := http.Get(base + "/slow")
			if err != nil {
				slow <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) == "b" {
				slow <- string(body)
				return
			}
		}
	}()
	for {
		select {
		case <-a.arrived:
			a.release <- struct{}{} // a's: answer it and try again
			continue
		case <-b.arrived:
		}
		break
	}
	src.set(config(a), 11)
	src.waitReport(t, "b draining at revision 11", func(r lbnode.Report) bool {
		return r.AppliedRevision == 11 && stateOf(r, tgARN, b.port) == lb.StateDraining
	})
	close(b.release)
	if got := <-slow; got != "b" {
		t.Fatalf("the request in flight to the draining target: %q", got)
	}
	src.waitReport(t, "b gone", func(r lbnode.Report) bool {
		return r.AppliedRevision == 11 && stateOf(r, tgARN, b.port) == "" && stateOf(r, tgARN, a.port) == lb.StateHealthy
	})

	// The control plane is unreachable: the node serves on.
	src.setFail(errors.New("connection refused"))
	for range 3 {
		if got := get("/"); got != "a" {
			t.Fatalf("while the source fails: GET / reached %q", got)
		}
	}
	if node.AppliedRevision() != 11 {
		t.Errorf("AppliedRevision = %d, want 11", node.AppliedRevision())
	}
}
