package lb

import (
	"fmt"
	"net/http"
	"testing"
)

// slowPair returns two healthy backends of a group whose /slow requests
// block until release is closed, reporting to slowAt which one got each.
func slowPair(t *testing.T) (a, b *backend, slowAt chan string, release chan struct{}) {
	slowAt = make(chan string, 4)
	release = make(chan struct{})
	a, b = newBackend(t, "a"), newBackend(t, "b")
	for _, be := range []*backend{a, b} {
		be.setHandler(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				slowAt <- be.name
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprint(w, be.name)
		})
	}
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return a, b, slowAt, release
}

// TestDraining removes a target with a request in flight: the request
// completes, new requests go to the other target, and the target is gone
// as soon as its request is done.
func TestDraining(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	a, b, slowAt, release := slowPair(t)
	byName := map[string]*backend{"a": a, "b": b}
	cfg := oneListener(forward(tgARN("tg")), nil, group("tg", a, b))
	mustUpdate(t, s, cfg)
	waitState(t, s, tgARN("tg"), StateHealthy, a, b)
	base := baseURL(t, s, listenerARN)
	c := newClient(t)

	slow := make(chan response, 1)
	go func() { slow <- get(t, c, base+"/slow") }()
	gone := byName[<-slowAt]
	stays := a
	if gone == a {
		stays = b
	}

	mustUpdate(t, s, oneListener(forward(tgARN("tg")), nil, group("tg", stays)))
	h := states(s, tgARN("tg"))["i-"+gone.name]
	if h.State != StateDraining || h.Reason != ReasonDeregistrationInProgress {
		t.Fatalf("removed target %s/%s, want draining/%s", h.State, h.Reason, ReasonDeregistrationInProgress)
	}
	before := gone.requests.Load()
	for range 20 {
		if resp := get(t, c, base+"/"); resp.body != stays.name {
			t.Fatalf("a new request went to %s, which is draining", resp.body)
		}
	}
	if n := gone.requests.Load(); n != before {
		t.Errorf("the draining target got %d new requests", n-before)
	}

	close(release)
	if resp := <-slow; resp.code != 200 || resp.body != gone.name {
		t.Errorf("in-flight request: %d %q", resp.code, resp.body)
	}
	waitFor(t, "the drained target to be gone", func() bool { _, ok := states(s, tgARN("tg"))["i-"+gone.name]; return !ok })
	if n := value(s.deps.metrics.drains.WithLabelValues(tgARN("tg"), drainNoRequests)); n != 1 {
		t.Errorf("deregistrations with no requests left = %v, want 1", n)
	}
}

// TestDrainingWithoutRequests checks that a target with nothing in flight
// is gone at once.
func TestDrainingWithoutRequests(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	a, b := newBackend(t, "a"), newBackend(t, "b")
	mustUpdate(t, s, oneListener(forward(tgARN("tg")), nil, group("tg", a, b)))
	mustUpdate(t, s, oneListener(forward(tgARN("tg")), nil, group("tg", b)))
	if got := s.Health(tgARN("tg")); len(got) != 1 || got[0].Target.ID != "i-b" {
		t.Errorf("Health = %+v, want b alone", got)
	}
}

// TestDrainingDelayElapsed checks that a target whose request never ends is
// gone once the deregistration delay has passed, the request cut.
func TestDrainingDelayElapsed(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	a, b, slowAt, _ := slowPair(t)
	byName := map[string]*backend{"a": a, "b": b}
	tg := group("tg", a, b)
	tg.Attributes = map[string]string{AttrDeregistrationDelay: "0.2"}
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	waitState(t, s, tg.ARN, StateHealthy, a, b)
	base := baseURL(t, s, listenerARN)

	slow := make(chan int, 1)
	go func() {
		resp, err := newClient(t).Get(base + "/slow")
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	gone := byName[<-slowAt]
	stays := a
	if gone == a {
		stays = b
	}
	tg.Targets = []Target{stays.target()}
	mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
	waitFor(t, "the target to be gone", func() bool { _, ok := states(s, tg.ARN)["i-"+gone.name]; return !ok })
	if code := <-slow; code != http.StatusBadGateway {
		t.Errorf("cut request: status %d, want 502", code)
	}
	if n := value(s.deps.metrics.drains.WithLabelValues(tg.ARN, drainDelayElapsed)); n != 1 {
		t.Errorf("deregistrations at the delay = %v, want 1", n)
	}
}

// TestDrainingTargetRegisteredAgain checks that a draining target
// registered again goes back to initial and keeps its request in flight,
// whether it left its group or the whole group left the configuration.
func TestDrainingTargetRegisteredAgain(t *testing.T) {
	tests := []struct {
		name    string
		without func(full TargetGroup, stays *backend) Config
	}{
		{"target deregistered", func(full TargetGroup, stays *backend) Config {
			tg := full
			tg.Targets = []Target{stays.target()}
			return oneListener(forward(tg.ARN), nil, tg)
		}},
		{"target group deleted", func(TargetGroup, *backend) Config {
			return oneListener(fixed("503", "no group"), nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			a, b, slowAt, release := slowPair(t)
			byName := map[string]*backend{"a": a, "b": b}
			tg := group("tg", a, b)
			full := oneListener(forward(tg.ARN), nil, tg)
			mustUpdate(t, s, full)
			waitState(t, s, tg.ARN, StateHealthy, a, b)
			base := baseURL(t, s, listenerARN)

			slow := make(chan response, 1)
			go func() { slow <- get(t, newClient(t), base+"/slow") }()
			gone := byName[<-slowAt]
			stays := a
			if gone == a {
				stays = b
			}
			mustUpdate(t, s, tt.without(tg, stays))
			mustUpdate(t, s, full)
			if st := states(s, tg.ARN)["i-"+gone.name]; st.State != StateInitial {
				t.Errorf("registered again: %q, want initial", st.State)
			}
			close(release)
			if resp := <-slow; resp.code != 200 {
				t.Errorf("in-flight request: %d", resp.code)
			}
			waitState(t, s, tg.ARN, StateHealthy, a, b)
		})
	}
}
