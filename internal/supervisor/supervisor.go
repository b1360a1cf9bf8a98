// Package supervisor runs a process's parts as components under one
// supervisor: it starts them in the order they are declared, stops every
// one when the first fails and returns that failure named by the
// component, and stops them in the reverse order on shutdown. Components
// marked leader-only run only while a Leadership says this process leads.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
)

// Component is one part of a process.
type Component struct {
	// Name names the component in its errors and logs.
	Name string
	// LeaderOnly components run only while this process leads (see
	// Leadership); they are stopped when leadership is lost and started
	// again when it is regained.
	LeaderOnly bool
	// Start, when set, runs before Run, and the next component starts only
	// once it has returned: what the later components need ready (a
	// record they rely on) goes here. An error from Start is a failure of
	// the component.
	Start func(ctx context.Context) error
	// Run runs the component until ctx ends, and must then return soon.
	// Returning before ctx ends is a failure of the component, even with
	// a nil error (ErrExited); after ctx ends, context.Canceled is not an
	// error.
	Run func(ctx context.Context) error
}

// ErrExited is the failure of a component whose Run returned nil before
// its context ended.
var ErrExited = errors.New("exited")

// ErrStopped is returned by Add once Run has begun stopping.
var ErrStopped = errors.New("supervisor stopped")

// Error is the failure of one component.
type Error struct {
	Component string
	Err       error
}

func (e *Error) Error() string { return e.Component + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Leadership says when this process leads. Campaign blocks until this
// process leads, and returns a channel closed when it no longer does; it
// returns ctx's error when ctx ends first, and any other error ends the
// supervisor that campaigns. Several supervisors of one process (nested
// ones) may campaign at once: each call returns once the process leads.
type Leadership interface {
	Campaign(ctx context.Context) (lost <-chan struct{}, err error)
}

// AlwaysLeader is the Leadership of a process that is the only server:
// it always leads.
type AlwaysLeader struct{}

// Campaign returns at once with a channel that is never closed.
func (AlwaysLeader) Campaign(context.Context) (<-chan struct{}, error) {
	return make(chan struct{}), nil
}

// Config is what a Supervisor needs.
type Config struct {
	// Leadership gates the leader-only components; AlwaysLeader when nil.
	Leadership Leadership
	// Logger logs components' starts, failures and stops; discarded when
	// nil.
	Logger *slog.Logger
}

// Supervisor runs components: New, Add, then Run.
type Supervisor struct {
	leadership Leadership
	log        *slog.Logger

	mu      sync.Mutex
	state   int // idle, running, stopping
	pending []Component
	wake    chan struct{}
}

const (
	idle = iota
	running
	stopping
)

// New returns a supervisor with no components.
func New(cfg Config) *Supervisor {
	s := &Supervisor{leadership: cfg.Leadership, log: cfg.Logger, wake: make(chan struct{}, 1)}
	if s.leadership == nil {
		s.leadership = AlwaysLeader{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "supervisor")
	return s
}

// Add declares components after those declared so far. Before Run they
// wait for it; while Run runs they start at once (the leader-only ones
// when this process leads), and they stop before those declared earlier.
// Add returns ErrStopped once Run has begun stopping.
func (s *Supervisor) Add(cs ...Component) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stopping {
		return ErrStopped
	}
	s.pending = append(s.pending, cs...)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// instance is one run of a component.
type instance struct {
	name     string
	cancel   context.CancelFunc
	done     chan struct{} // closed when Run has returned
	err      error         // Run's error, set before done closes
	stopping bool          // the supervisor canceled it
}

// member is a declared component and its current run, if any.
type member struct {
	c    Component
	inst *instance
}

// Run starts the components in the order declared (the leader-only ones
// once this process leads) and runs them until ctx ends or one fails.
// Then it stops every running component in the reverse order, canceling
// each one's context and waiting for its Run to return before stopping
// the one declared before it. Run returns the first failure, an *Error
// naming its component (a panic is one), or nil when ctx ended and every
// component stopped cleanly. Run may be called once.
func (s *Supervisor) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.state != idle {
		s.mu.Unlock()
		return errors.New("supervisor: Run called twice")
	}
	s.state = running
	s.mu.Unlock()

	r := &run{s: s, exits: make(chan *instance), elected: make(chan (<-chan struct{})),
		campaignErr: make(chan error), stopped: make(chan struct{})}
	// r.ctx ends with ctx or at the first failure. The components' own
	// contexts do not inherit its cancellation: they are canceled one by
	// one, in reverse order.
	r.ctx, r.fail = context.WithCancel(ctx)
	r.base = context.WithoutCancel(ctx)
	defer r.fail()
	defer close(r.stopped)
	return r.loop()
}

// run is the state of one Run, owned by its loop.
type run struct {
	s       *Supervisor
	ctx     context.Context // ends with Run's ctx or at the first failure
	base    context.Context // the components' contexts' parent
	fail    context.CancelFunc
	members []*member
	first   error

	exits       chan *instance
	elected     chan (<-chan struct{})
	campaignErr chan error
	stopped     chan struct{} // closed when Run returns

	campaigning bool
	leading     bool
	lost        <-chan struct{}
}

func (r *run) loop() error {
	r.take()
	for r.ctx.Err() == nil {
		select {
		case <-r.ctx.Done():
		case <-r.s.wake:
			r.take()
		case in := <-r.exits:
			if !in.stopping && r.ctx.Err() == nil {
				err := in.err
				if err == nil {
					err = ErrExited
				}
				r.record(in.name, err)
			}
		case lost := <-r.elected:
			r.campaigning = false
			r.leading, r.lost = true, lost
			r.s.log.Debug("leading")
			for _, m := range r.members {
				if m.c.LeaderOnly && r.ctx.Err() == nil {
					r.start(m)
				}
			}
		case <-r.lost:
			r.s.log.Info("lost leadership; stopping the leader-only components")
			r.leading, r.lost = false, nil
			for i := len(r.members) - 1; i >= 0; i-- {
				if m := r.members[i]; m.c.LeaderOnly {
					r.stop(m)
				}
			}
			r.campaign()
		case err := <-r.campaignErr:
			r.campaigning = false
			r.record("leadership", err)
		}
	}
	r.s.mu.Lock()
	r.s.state = stopping
	r.s.mu.Unlock()
	for i := len(r.members) - 1; i >= 0; i-- {
		r.stop(r.members[i])
	}
	return r.first
}

// take declares the components added since the last take and starts
// those that may run now.
func (r *run) take() {
	r.s.mu.Lock()
	cs := r.s.pending
	r.s.pending = nil
	r.s.mu.Unlock()
	for _, c := range cs {
		m := &member{c: c}
		r.members = append(r.members, m)
		if r.ctx.Err() != nil {
			continue
		}
		if !c.LeaderOnly || r.leading {
			r.start(m)
		} else if !r.campaigning {
			r.campaign()
		}
	}
}

// campaign campaigns for leadership in the background.
func (r *run) campaign() {
	r.campaigning = true
	go func() {
		lost, err := r.s.leadership.Campaign(r.ctx)
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			select {
			case r.campaignErr <- fmt.Errorf("campaign: %w", err):
			case <-r.stopped:
			}
			return
		}
		select {
		case r.elected <- lost:
		case <-r.stopped:
		}
	}()
}

// start runs m's Start, then its Run in a goroutine of its own.
func (r *run) start(m *member) {
	ctx, cancel := context.WithCancel(r.base)
	in := &instance{name: m.c.Name, cancel: cancel, done: make(chan struct{})}
	if m.c.Start != nil {
		// Start also ends when the supervisor stops.
		sctx, scancel := context.WithCancel(ctx)
		stop := context.AfterFunc(r.ctx, scancel)
		err := protect(m.c.Name, func() error { return m.c.Start(sctx) }, r.s.log)
		stop()
		scancel()
		if err != nil {
			cancel()
			if r.ctx.Err() == nil {
				r.record(m.c.Name, fmt.Errorf("start: %w", err))
			}
			return
		}
	}
	m.inst = in
	r.s.log.Debug("started", "name", m.c.Name)
	go func() {
		in.err = protect(m.c.Name, func() error { return m.c.Run(ctx) }, r.s.log)
		close(in.done)
		select {
		case r.exits <- in:
		case <-r.stopped:
		}
	}()
}

// stop cancels m's run and waits for it to return; an error it returns
// other than context.Canceled is a failure.
func (r *run) stop(m *member) {
	in := m.inst
	if in == nil {
		return
	}
	m.inst = nil
	in.stopping = true
	in.cancel()
	<-in.done
	r.s.log.Debug("stopped", "name", m.c.Name)
	if in.err != nil && !errors.Is(in.err, context.Canceled) {
		r.record(m.c.Name, in.err)
	}
}

// record keeps the first failure and begins stopping.
func (r *run) record(name string, err error) {
	if r.first != nil {
		return
	}
	r.first = &Error{Component: name, Err: err}
	// The error is logged where Run's caller handles it.
	r.s.log.Info("stopping", "failed", name)
	r.fail()
}

// protect calls f, turning a panic into an error.
func protect(name string, f func() error, log *slog.Logger) (err error) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("panic", "name", name, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return f()
}
