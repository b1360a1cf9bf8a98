package lb

import (
	"net/http"
	"testing"
	"time"
)

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		spec        string
		match, miss []int
		wantErr     bool
	}{
		{spec: "200", match: []int{200}, miss: []int{201, 199, 302}},
		{spec: "200-299", match: []int{200, 250, 299}, miss: []int{300, 199}},
		{spec: "200,302", match: []int{200, 302}, miss: []int{301, 201}},
		{spec: "200-204, 301,404", match: []int{202, 301, 404}, miss: []int{205, 302}},
		{spec: "199", wantErr: true},
		{spec: "500", wantErr: true},
		{spec: "300-200", wantErr: true},
		{spec: "2xx", wantErr: true},
		{spec: "200,", wantErr: true},
	}
	for _, tt := range tests {
		set, err := parseMatcher(tt.spec)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseMatcher(%q) error %v, want error %v", tt.spec, err, tt.wantErr)
			continue
		}
		for _, c := range tt.match {
			if !set.contains(c) {
				t.Errorf("parseMatcher(%q) lacks %d", tt.spec, c)
			}
		}
		for _, c := range tt.miss {
			if set.contains(c) {
				t.Errorf("parseMatcher(%q) has %d", tt.spec, c)
			}
		}
	}
}

func TestHealthObserve(t *testing.T) {
	ok := probeResult{ok: true}
	code := probeResult{reason: ReasonResponseCodeMismatch, description: "Health checks failed with these codes: [500]"}
	timeout := probeResult{reason: ReasonTimeout, description: descTimeout}
	refused := probeResult{reason: ReasonFailedHealthChecks, description: descFailed}
	type step struct {
		res    probeResult
		state  string
		reason string
	}
	tests := []struct {
		name               string
		start              health
		healthy, unhealthy int
		steps              []step
	}{
		{"initial to healthy after the threshold", healthInitial, 3, 2, []step{
			{ok, StateInitial, ReasonInitialHealthChecking},
			{ok, StateInitial, ReasonInitialHealthChecking},
			{ok, StateHealthy, ""},
			{ok, StateHealthy, ""},
		}},
		{"initial to unhealthy after the threshold", healthInitial, 3, 2, []step{
			{code, StateInitial, ReasonInitialHealthChecking},
			{code, StateUnhealthy, ReasonResponseCodeMismatch},
		}},
		{"a failure resets the streak of successes", healthInitial, 2, 3, []step{
			{ok, StateInitial, ReasonInitialHealthChecking},
			{timeout, StateInitial, ReasonInitialHealthChecking},
			{ok, StateInitial, ReasonInitialHealthChecking},
			{ok, StateHealthy, ""},
		}},
		{"healthy to unhealthy, the last failure's reason", health{state: StateHealthy}, 2, 3, []step{
			{code, StateHealthy, ""},
			{code, StateHealthy, ""},
			{timeout, StateUnhealthy, ReasonTimeout},
			{refused, StateUnhealthy, ReasonFailedHealthChecks},
		}},
		{"a success resets the streak of failures", health{state: StateHealthy}, 2, 2, []step{
			{code, StateHealthy, ""},
			{ok, StateHealthy, ""},
			{code, StateHealthy, ""},
			{code, StateUnhealthy, ReasonResponseCodeMismatch},
		}},
		{"unhealthy back to healthy", health{state: StateUnhealthy, reason: ReasonTimeout}, 2, 2, []step{
			{ok, StateUnhealthy, ReasonTimeout},
			{ok, StateHealthy, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.start
			for i, s := range tt.steps {
				h = h.observe(s.res, tt.healthy, tt.unhealthy)
				if h.state != s.state || h.reason != s.reason {
					t.Fatalf("step %d: %s/%s, want %s/%s", i+1, h.state, h.reason, s.state, s.reason)
				}
			}
		})
	}
}

// TestHealthTransitions checks real health checks: a healthy target that
// starts failing in each of the ways becomes unhealthy with ELBv2's reason
// once the threshold is reached, and healthy again once it recovers.
func TestHealthTransitions(t *testing.T) {
	tests := []struct {
		name     string
		fail     func(*backend)
		recover  func(*backend)
		reason   string
		desc     string
		counting bool // whether the failing checks reach the backend
	}{
		{
			name:    "status code",
			fail:    func(b *backend) { b.health.Store(http.StatusInternalServerError) },
			recover: func(b *backend) { b.health.Store(http.StatusOK) },
			reason:  ReasonResponseCodeMismatch, desc: "Health checks failed with these codes: [500]",
			counting: true,
		},
		{
			name:    "timeout",
			fail:    func(b *backend) { b.slowness.Store(int64(time.Second)) },
			recover: func(b *backend) { b.slowness.Store(0) },
			reason:  ReasonTimeout, desc: descTimeout,
			counting: true,
		},
		{
			name:   "connection refused",
			fail:   func(b *backend) { b.srv.Close() },
			reason: ReasonFailedHealthChecks, desc: descFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			b := newBackend(t, "b")
			tg := group("tg", b)
			mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
			waitState(t, s, tg.ARN, StateHealthy, b)

			before := b.probes.Load()
			tt.fail(b)
			waitState(t, s, tg.ARN, StateUnhealthy, b)
			h := states(s, tg.ARN)["i-b"]
			if h.Reason != tt.reason || h.Description != tt.desc {
				t.Errorf("unhealthy with %q %q, want %q %q", h.Reason, h.Description, tt.reason, tt.desc)
			}
			// The probe in flight when the backend changed may have
			// passed; the threshold's worth after it failed.
			if n := b.probes.Load() - before; tt.counting && n < int64(fastHealth.UnhealthyThresholdCount) {
				t.Errorf("unhealthy after %d checks, want at least %d", n, fastHealth.UnhealthyThresholdCount)
			}
			if tt.recover != nil {
				tt.recover(b)
				waitState(t, s, tg.ARN, StateHealthy, b)
			}
		})
	}
}

func TestHealthCheckSettings(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	b := newBackend(t, "b")
	other := newBackend(t, "other") // answers the checks on its own port
	b.health.Store(http.StatusInternalServerError)
	other.health.Store(http.StatusFound)
	tg := group("tg", b)
	tg.HealthCheck.Port = itoa(other.target().Port)
	tg.HealthCheck.Matcher = Matcher{HTTPCode: "200,302"}
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	waitState(t, s, tg.ARN, StateHealthy, b)
	if h := states(s, tg.ARN)["i-b"]; h.HealthCheckPort != tg.HealthCheck.Port {
		t.Errorf("health check port %q, want %q", h.HealthCheckPort, tg.HealthCheck.Port)
	}
	if b.probes.Load() != 0 {
		t.Errorf("the traffic port got %d checks", b.probes.Load())
	}
}

// TestNewTargetGetsNoTrafficUntilHealthy registers a target with a group
// that has a healthy one: it gets nothing until its checks pass.
func TestNewTargetGetsNoTrafficUntilHealthy(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	a, b := newBackend(t, "a"), newBackend(t, "b")
	c := newClient(t)
	mustUpdate(t, s, oneListener(forward(tgARN("tg")), nil, group("tg", a)))
	base := baseURL(t, s, listenerARN)
	waitState(t, s, tgARN("tg"), StateHealthy, a)

	b.health.Store(http.StatusServiceUnavailable) // not ready yet
	mustUpdate(t, s, oneListener(forward(tgARN("tg")), nil, group("tg", a, b)))
	if st := states(s, tgARN("tg"))["i-b"]; st.State != StateInitial || st.Reason != ReasonRegistrationInProgress {
		t.Errorf("new target %s/%s, want initial/%s", st.State, st.Reason, ReasonRegistrationInProgress)
	}
	// Until b is checked enough to be unhealthy, every request is a's.
	for b.probes.Load() < int64(fastHealth.UnhealthyThresholdCount) {
		if resp := get(t, c, base+"/"); resp.body != "a" {
			t.Fatalf("request went to %q while b was %s", resp.body, states(s, tgARN("tg"))["i-b"].State)
		}
	}
	if n := b.requests.Load(); n != 0 {
		t.Fatalf("b got %d requests before it was healthy", n)
	}

	b.health.Store(http.StatusOK)
	waitState(t, s, tgARN("tg"), StateHealthy, b)
	for range 10 {
		get(t, c, base+"/")
	}
	if n := b.requests.Load(); n != 5 {
		t.Errorf("b got %d of 10 requests once healthy, want 5", n)
	}
}

// TestFailOpen checks that a group whose targets are all unhealthy sends
// to all of them.
func TestFailOpen(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	a, b := newBackend(t, "a"), newBackend(t, "b")
	a.health.Store(http.StatusInternalServerError)
	b.health.Store(http.StatusInternalServerError)
	tg := group("tg", a, b)
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	waitState(t, s, tg.ARN, StateUnhealthy, a, b)
	c := newClient(t)
	for range 20 {
		if resp := get(t, c, baseURL(t, s, listenerARN)+"/"); resp.code != 200 {
			t.Fatalf("status %d", resp.code)
		}
	}
	if a.requests.Load() != 10 || b.requests.Load() != 10 {
		t.Errorf("a got %d, b %d of 20; want 10 each", a.requests.Load(), b.requests.Load())
	}
}

// TestTargetGroupNotInUse checks that the targets of a group no listener
// forwards to are unused and not checked, until a listener does.
func TestTargetGroupNotInUse(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	b := newBackend(t, "b")
	tg := group("tg", b)
	mustUpdate(t, s, oneListener(fixed("200", "nothing forwarded"), nil, tg))
	want := TargetHealth{Target: b.target(), HealthCheckPort: itoa(b.target().Port), State: StateUnused, Reason: ReasonNotInUse, Description: descNotInUse}
	if got := s.Health(tg.ARN); len(got) != 1 || got[0] != want {
		t.Errorf("Health = %+v, want [%+v]", got, want)
	}
	if s.Health(tgARN("unknown")) != nil {
		t.Error("Health of an unknown group is not nil")
	}

	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	if st := states(s, tg.ARN)["i-b"].State; st != StateInitial {
		t.Errorf("state %s once in use, want initial", st)
	}
	waitState(t, s, tg.ARN, StateHealthy, b)
}
