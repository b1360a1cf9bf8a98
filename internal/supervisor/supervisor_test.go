package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// journal records what components do, in order.
type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, fmt.Sprintf(format, args...))
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

// probe is a component that records its start and stop, tells when it
// runs, and checks when stopped that the components declared before it
// still run.
type probe struct {
	name    string
	j       *journal
	running chan struct{} // receives once per run
	mu      sync.Mutex
	ctx     context.Context // of the current run
	before  []*probe        // must still run when this one stops
	t       *testing.T
}

func newProbe(t *testing.T, j *journal, name string, before ...*probe) *probe {
	return &probe{name: name, j: j, running: make(chan struct{}, 8), before: before, t: t}
}

func (p *probe) component(leaderOnly bool) Component {
	return Component{Name: p.name, LeaderOnly: leaderOnly,
		Start: func(context.Context) error { p.j.add("start %s", p.name); return nil },
		Run: func(ctx context.Context) error {
			p.mu.Lock()
			p.ctx = ctx
			p.mu.Unlock()
			p.running <- struct{}{}
			<-ctx.Done()
			for _, b := range p.before {
				if b.alive() {
					continue
				}
				p.t.Errorf("%s stopped before %s, declared earlier", b.name, p.name)
			}
			p.j.add("stop %s", p.name)
			return ctx.Err()
		}}
}

// alive reports whether the probe's current run's context is live.
func (p *probe) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ctx != nil && p.ctx.Err() == nil
}

func runSupervisor(ctx context.Context, s *Supervisor) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return done
}

func TestStartsInOrderStopsInReverse(t *testing.T) {
	j := &journal{}
	a := newProbe(t, j, "a")
	b := newProbe(t, j, "b", a)
	c := newProbe(t, j, "c", a, b)
	s := New(Config{})
	if err := s.Add(a.component(false), b.component(false), c.component(false)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := runSupervisor(ctx, s)
	for _, p := range []*probe{a, b, c} {
		<-p.running
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q", got, want)
	}
	if err := s.Add(a.component(false)); !errors.Is(err, ErrStopped) {
		t.Errorf("Add after Run = %v, want ErrStopped", err)
	}
}

func TestFirstFailureStopsAllAndNamesComponent(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name string
		run  func(ctx context.Context) error
		want string
		is   error
	}{
		{"error", func(context.Context) error { return boom }, "b: boom", boom},
		{"nil before its context ends", func(context.Context) error { return nil }, "b: exited", ErrExited},
		{"panic", func(context.Context) error { panic("oops") }, "b: panic: oops", nil},
		{"canceled before its context ends", func(context.Context) error { return context.Canceled }, "b: context canceled", context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{}
			a := newProbe(t, j, "a")
			c := newProbe(t, j, "c", a)
			// b fails only once a and c run, so that both are stopped.
			aRuns, cRuns := make(chan struct{}), make(chan struct{})
			s := New(Config{})
			s.Add(a.component(false), Component{Name: "b", Run: func(ctx context.Context) error {
				<-aRuns
				<-cRuns
				return tc.run(ctx)
			}}, c.component(false))
			done := runSupervisor(context.Background(), s)
			<-a.running
			close(aRuns)
			<-c.running
			close(cRuns)
			err := <-done
			var se *Error
			if !errors.As(err, &se) || se.Component != "b" || err.Error() != tc.want {
				t.Fatalf("Run = %v, want %q from component b", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Run = %v, not %v", err, tc.is)
			}
			if got, want := j.get(), []string{"start a", "start c", "stop c", "stop a"}; !slices.Equal(got, want) {
				t.Errorf("journal = %q, want %q", got, want)
			}
		})
	}
}

func TestFailedStartStopsTheStarted(t *testing.T) {
	j := &journal{}
	a := newProbe(t, j, "a")
	c := newProbe(t, j, "c")
	s := New(Config{})
	s.Add(a.component(false),
		Component{Name: "b", Start: func(context.Context) error { return errors.New("no socket") },
			Run: func(ctx context.Context) error { j.add("run b"); <-ctx.Done(); return nil }},
		c.component(false))
	err := s.Run(context.Background())
	if err == nil || err.Error() != "b: start: no socket" {
		t.Fatalf("Run = %v, want b's start failure", err)
	}
	if got, want := j.get(), []string{"start a", "stop a"}; !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q", got, want)
	}
}

func TestErrorOnStopIsReported(t *testing.T) {
	s := New(Config{})
	running := make(chan struct{})
	s.Add(Component{Name: "api", Run: func(ctx context.Context) error {
		close(running)
		<-ctx.Done()
		return errors.New("shutdown: connections left")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := runSupervisor(ctx, s)
	<-running
	cancel()
	if err := <-done; err == nil || err.Error() != "api: shutdown: connections left" {
		t.Fatalf("Run = %v, want api's shutdown error", err)
	}
}

// fakeLeadership grants leadership when the test sends a lost channel.
type fakeLeadership struct {
	campaigns chan struct{}      // receives when Campaign is called
	grant     chan chan struct{} // the test grants with the channel it closes to take it back
}

func (f *fakeLeadership) Campaign(ctx context.Context) (<-chan struct{}, error) {
	f.campaigns <- struct{}{}
	select {
	case lost := <-f.grant:
		return lost, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestLeaderOnlyRunsWhileLeading(t *testing.T) {
	j := &journal{}
	f := &fakeLeadership{campaigns: make(chan struct{}, 4), grant: make(chan chan struct{})}
	l := newProbe(t, j, "controller")
	n := newProbe(t, j, "api")
	s := New(Config{Leadership: f})
	// The leader-only one is declared first: had it been started without
	// leadership, its Start would come before the api's.
	s.Add(l.component(true), n.component(false))
	ctx, cancel := context.WithCancel(context.Background())
	done := runSupervisor(ctx, s)
	<-n.running
	if got, want := j.get(), []string{"start api"}; !slices.Equal(got, want) {
		t.Fatalf("before leadership: journal = %q, want %q", got, want)
	}
	<-f.campaigns

	lost := make(chan struct{})
	f.grant <- lost
	<-l.running
	close(lost)
	<-f.campaigns // it campaigns again once the leader-only ones stopped
	if got, want := j.get(), []string{"start api", "start controller", "stop controller"}; !slices.Equal(got, want) {
		t.Fatalf("after losing leadership: journal = %q, want %q", got, want)
	}
	if !n.alive() {
		t.Fatal("losing leadership stopped a component that is not leader-only")
	}

	f.grant <- make(chan struct{})
	<-l.running
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	want := []string{"start api", "start controller", "stop controller", "start controller", "stop api", "stop controller"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q (reverse of the declared order)", got, want)
	}
}

func TestCampaignErrorStops(t *testing.T) {
	s := New(Config{Leadership: failingLeadership{}})
	j := &journal{}
	n := newProbe(t, j, "api")
	s.Add(n.component(false), Component{Name: "controller", LeaderOnly: true,
		Run: func(ctx context.Context) error { j.add("run controller"); return nil }})
	err := s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "leadership: campaign: no quorum") {
		t.Fatalf("Run = %v, want the campaign's error", err)
	}
	if got, want := j.get(), []string{"start api", "stop api"}; !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q", got, want)
	}
}

type failingLeadership struct{}

func (failingLeadership) Campaign(context.Context) (<-chan struct{}, error) {
	return nil, errors.New("no quorum")
}

func TestAddWhileRunning(t *testing.T) {
	j := &journal{}
	a := newProbe(t, j, "a")
	b := newProbe(t, j, "b", a)
	c := newProbe(t, j, "c", a, b)
	s := New(Config{})
	s.Add(a.component(false))
	ctx, cancel := context.WithCancel(context.Background())
	done := runSupervisor(ctx, s)
	<-a.running
	if err := s.Add(b.component(false)); err != nil {
		t.Fatal(err)
	}
	<-b.running
	// A leader-only one added while leading (AlwaysLeader) starts too.
	if err := s.Add(c.component(true)); err != nil {
		t.Fatal(err)
	}
	<-c.running
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if got := j.get(); !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q", got, want)
	}
}

func TestRunTwice(t *testing.T) {
	s := New(Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err == nil {
		t.Fatal("second Run = nil, want an error")
	}
}
