package lb

import (
	"fmt"
	"math"
	"net/http"
	"net/http/cookiejar"
	"testing"
)

// TestWeightedForward measures, in one run, how requests split between
// weighted target groups. The bounds are wide: ten standard deviations.
func TestWeightedForward(t *testing.T) {
	const requests = 2000
	tests := []struct {
		name    string
		weights []int
		want    []float64 // shares
	}{
		{"1:3", []int{1, 3}, []float64{0.25, 0.75}},
		{"blue/green with a group at 0", []int{0, 100, 900}, []float64{0, 0.1, 0.9}},
		{"all 0 share equally", []int{0, 0}, []float64{0.5, 0.5}},
		{"999:999:999", []int{999, 999, 999}, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			var tgs []TargetGroup
			var backends []*backend
			fc := &ForwardConfig{}
			for i, w := range tt.weights {
				b := newBackend(t, fmt.Sprint("g", i))
				backends = append(backends, b)
				tgs = append(tgs, group(b.name, b))
				fc.TargetGroups = append(fc.TargetGroups, TargetGroupTuple{TargetGroupARN: tgARN(b.name), Weight: w})
			}
			mustUpdate(t, s, oneListener([]Action{{Type: ActionForward, ForwardConfig: fc}}, nil, tgs...))
			c := newClient(t)
			base := baseURL(t, s, listenerARN)
			for range requests {
				if resp := get(t, c, base+"/"); resp.code != 200 {
					t.Fatalf("status %d", resp.code)
				}
			}
			for i, b := range backends {
				share := float64(b.requests.Load()) / requests
				sigma := math.Sqrt(tt.want[i] * (1 - tt.want[i]) / requests)
				if math.Abs(share-tt.want[i]) > 10*sigma+1e-9 {
					t.Errorf("group %d (weight %d) got %.3f of the requests, want %.3f", i, tt.weights[i], share, tt.want[i])
				}
				t.Logf("group %d weight %d: %.3f", i, tt.weights[i], share)
			}
		})
	}
}

// TestGroupStickiness checks that a client with the AWSALBTG cookie stays
// with its target group.
func TestGroupStickiness(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	blue, green := newBackend(t, "blue"), newBackend(t, "green")
	fc := &ForwardConfig{
		TargetGroups:                []TargetGroupTuple{{TargetGroupARN: tgARN("blue"), Weight: 1}, {TargetGroupARN: tgARN("green"), Weight: 1}},
		TargetGroupStickinessConfig: &TargetGroupStickinessConfig{Enabled: true, DurationSeconds: 60},
	}
	mustUpdate(t, s, oneListener([]Action{{Type: ActionForward, ForwardConfig: fc}}, nil, group("blue", blue), group("green", green)))
	base := baseURL(t, s, listenerARN)
	for client := range 4 {
		jar, _ := cookiejar.New(nil)
		c := newClient(t)
		c.Jar = jar
		first := get(t, c, base+"/")
		if first.header.Get("Set-Cookie") == "" {
			t.Fatal("no stickiness cookie")
		}
		for range 20 {
			if resp := get(t, c, base+"/"); resp.body != first.body {
				t.Fatalf("client %d went from %s to %s", client, first.body, resp.body)
			}
		}
	}
}

// TestAlgorithms checks how targets of one group share the requests.
func TestAlgorithms(t *testing.T) {
	t.Run("round robin", func(t *testing.T) {
		s, _ := newTestServer(t, Options{})
		bs := []*backend{newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")}
		tg := group("tg", bs...)
		mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
		waitState(t, s, tg.ARN, StateHealthy, bs...)
		c := newClient(t)
		for range 300 {
			get(t, c, baseURL(t, s, listenerARN)+"/")
		}
		for _, b := range bs {
			if n := b.requests.Load(); n != 100 {
				t.Errorf("%s got %d of 300, want 100", b.name, n)
			}
		}
	})

	t.Run("weighted random", func(t *testing.T) {
		s, _ := newTestServer(t, Options{})
		bs := []*backend{newBackend(t, "a"), newBackend(t, "b")}
		tg := group("tg", bs...)
		tg.Attributes = map[string]string{AttrAlgorithm: AlgorithmWeightedRandom}
		mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
		waitState(t, s, tg.ARN, StateHealthy, bs...)
		c := newClient(t)
		for range 1000 {
			get(t, c, baseURL(t, s, listenerARN)+"/")
		}
		for _, b := range bs {
			if n := b.requests.Load(); n < 350 || n > 650 {
				t.Errorf("%s got %d of 1000, want about 500", b.name, n)
			}
		}
	})

	// With one slow request in flight on a target, least outstanding
	// requests sends everything else to the other one.
	t.Run("least outstanding requests", func(t *testing.T) {
		s, _ := newTestServer(t, Options{})
		slowAt := make(chan string, 1)
		release := make(chan struct{})
		bs := []*backend{newBackend(t, "a"), newBackend(t, "b")}
		for _, b := range bs {
			b.setHandler(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					slowAt <- b.name
					<-release
				}
				fmt.Fprint(w, b.name)
			})
		}
		tg := group("tg", bs...)
		tg.Attributes = map[string]string{AttrAlgorithm: AlgorithmLeastOutstanding}
		mustUpdate(t, s, oneListener(forward(tg.ARN), nil, tg))
		waitState(t, s, tg.ARN, StateHealthy, bs...)
		c := newClient(t)
		base := baseURL(t, s, listenerARN)

		slow := make(chan response, 1)
		go func() { slow <- get(t, c, base+"/slow") }()
		busy := <-slowAt
		idle := "a"
		if busy == "a" {
			idle = "b"
		}
		for range 20 {
			if resp := get(t, c, base+"/"); resp.body == busy {
				t.Fatalf("a request went to %s, which has one in flight", busy)
			}
			// The client can have its response a moment before the load
			// balancer counts the request done.
			waitInFlight(t, s, tg.ARN, "i-"+idle, 0)
		}
		close(release)
		if resp := <-slow; resp.body != busy {
			t.Errorf("slow request answered by %q", resp.body)
		}
		waitInFlight(t, s, tg.ARN, "i-"+busy, 0)
		// Now even, they alternate.
		seen := map[string]int{}
		for range 10 {
			seen[get(t, c, base+"/").body]++
			waitInFlight(t, s, tg.ARN, "i-a", 0)
			waitInFlight(t, s, tg.ARN, "i-b", 0)
		}
		if seen["a"] != 5 || seen["b"] != 5 {
			t.Errorf("idle targets got %v, want 5 each", seen)
		}
	})
}

func TestSlowStartShare(t *testing.T) {
	tgt := &target{}
	const d = 1000
	tests := []struct {
		until, now int64
		want       float64
	}{
		{0, 500, 1},       // not in slow start
		{1000, 1000, 1},   // over
		{1000, 0, 0},      // just started
		{1000, 750, 0.75}, // three quarters in
	}
	for _, tt := range tests {
		tgt.slowStartUntil.Store(tt.until)
		accepted := 0
		for range 10000 {
			if tgt.acceptsInSlowStart(tt.now, d) {
				accepted++
			}
		}
		if got := float64(accepted) / 10000; math.Abs(got-tt.want) > 0.05 {
			t.Errorf("until %d at %d: accepted %.3f, want %.2f", tt.until, tt.now, got, tt.want)
		}
	}
}
