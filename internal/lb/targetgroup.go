package lb

import (
	"cmp"
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// deps are what the parts of a Server share.
type deps struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	prober  *prober
	buffers *bufferPool
	wg      *sync.WaitGroup // health checkers, serving goroutines
	loops   []*evloop       // serving plain HTTP connections; none on other platforms or when switched off
	limit   *ConnLimit      // on the client connections of every listener
}

// Why a draining target finished, the reason label of the deregistrations
// metric.
const (
	drainNoRequests   = "no_requests"
	drainDelayElapsed = "delay_elapsed"
)

// targetGroup is the runtime state of a target group, kept across updates by
// ARN: its targets with their health, connection pools and requests in
// flight. Requests read the pool without locking; everything else holds mu.
type targetGroup struct {
	arn  string
	deps *deps
	log  *slog.Logger

	pool atomic.Pointer[pool]
	next atomic.Uint64 // round robin position

	mu      sync.Mutex
	spec    tgSpec
	inUse   bool // some listener forwards to the group
	removed bool // gone from the configuration
	targets map[string]*target
}

// pool is what a request picks a target from, rebuilt whenever a target
// comes, goes or changes state.
type pool struct {
	healthy    []*target // routable
	unhealthy  []*target // the fail-open set, when no target is healthy
	registered []*target // not draining: the fail-open set when no target is healthy or unhealthy
	algorithm  string
	slowStart  time.Duration
}

// target is a registered or draining target of a group.
type target struct {
	Target // resolved
	key    string
	tg     *targetGroup

	hostport  string
	addr      netip.AddrPort // of hostport, when it is an IP address
	scheme    string
	proxy     *httputil.ReverseProxy
	transport *http.Transport
	pool      connPool   // of the requests that skip proxy and transport
	loopPools []connPool // the same, of each event loop's connections
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	conns     connSet

	inflight       atomic.Int64
	drainingNow    atomic.Bool  // mirrors draining, read without the lock
	cut            atomic.Bool  // drained past its delay: no new connections
	slowStartUntil atomic.Int64 // unix nanoseconds; 0 when not in slow start

	// Guarded by tg.mu.
	health     health
	draining   bool
	drainGen   int
	drainTimer *time.Timer
	stopCheck  context.CancelFunc // nil when not checked
}

func newTargetGroup(arn string, d *deps) *targetGroup {
	tg := &targetGroup{
		arn:     arn,
		deps:    d,
		log:     d.log.With("target_group", arn),
		targets: map[string]*target{},
	}
	tg.pool.Store(&pool{})
	return tg
}

// apply makes the group's state that of a new configuration: spec, targets
// and whether a listener forwards to it. New targets start in initial (or
// unused when the group is not in use), missing ones are drained, and a
// draining one that is back is registered again.
func (tg *targetGroup) apply(spec tgSpec, targets []resolvedTarget, inUse bool) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	healthChanged := spec.health != tg.spec.health
	tg.spec, tg.inUse, tg.removed = spec, inUse, false

	want := make(map[string]bool, len(targets))
	for _, rt := range targets {
		key := spec.scheme + "://" + rt.key
		want[key] = true
		t := tg.targets[key]
		switch {
		case t == nil:
			t = newTarget(tg, rt, key, spec.scheme)
			t.health = healthInitial
			tg.targets[key] = t
			tg.log.Info("target registered", "target", key)
		case t.draining:
			t.draining = false
			t.drainingNow.Store(false)
			if t.drainTimer != nil {
				t.drainTimer.Stop()
			}
			t.health = healthInitial
			tg.log.Info("draining target registered again", "target", key)
		}
	}
	for key, t := range tg.targets {
		if !want[key] && !t.draining {
			tg.drain(t)
		}
	}
	for _, t := range tg.targets {
		if t.draining {
			continue
		}
		if !inUse {
			tg.stopChecking(t)
			t.health = healthNotInUse
			t.slowStartUntil.Store(0)
			continue
		}
		if t.health.state == StateUnused {
			t.health = healthInitial
		}
		if healthChanged {
			tg.stopChecking(t) // started again below with the new settings
		}
		if t.stopCheck == nil {
			tg.startChecking(t)
		}
	}
	tg.rebuild()
}

// remove stops checking the group and drains all its targets; it is no
// longer in the configuration.
func (tg *targetGroup) remove() {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.removed, tg.inUse = true, false
	for _, t := range tg.targets {
		if !t.draining {
			tg.drain(t)
		}
	}
	tg.rebuild()
}

// empty reports whether the group has no target left, draining or not.
func (tg *targetGroup) empty() bool {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return len(tg.targets) == 0
}

// close stops everything at once: checks, drains, connections.
func (tg *targetGroup) close() {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	for _, t := range tg.targets {
		tg.stopChecking(t)
		if t.drainTimer != nil {
			t.drainTimer.Stop()
		}
		t.conns.closeAll()
		t.closeIdle()
	}
}

func (tg *targetGroup) startChecking(t *target) {
	ctx, cancel := context.WithCancel(context.Background())
	t.stopCheck = cancel
	sp := tg.spec.health
	tg.deps.wg.Go(func() { tg.check(ctx, t, sp) })
}

func (tg *targetGroup) stopChecking(t *target) {
	if t.stopCheck != nil {
		t.stopCheck()
		t.stopCheck = nil
	}
}

// observe applies a health check result to t, unless its checker was
// stopped meanwhile.
func (tg *targetGroup) observe(ctx context.Context, t *target, res probeResult) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	before := t.health
	t.health = before.observe(res, tg.spec.health.healthy, tg.spec.health.unhealthy)
	if t.health.state == before.state {
		return
	}
	tg.log.Info("target health changed", "target", t.key, "from", before.state, "to", t.health.state,
		"reason", t.health.reason, "description", t.health.description)
	t.slowStartUntil.Store(0)
	if t.health.state == StateHealthy && tg.spec.slowStart > 0 && len(tg.pool.Load().healthy) > 0 {
		// ELBv2 puts a newly healthy target in slow start unless it is
		// the only one healthy.
		t.slowStartUntil.Store(time.Now().Add(tg.spec.slowStart).UnixNano())
	}
	tg.rebuild()
}

// drain stops sending new requests to t; it finishes as soon as it has no
// request in flight, or when the deregistration delay has passed.
func (tg *targetGroup) drain(t *target) {
	tg.stopChecking(t)
	t.draining = true
	t.drainingNow.Store(true)
	t.health = healthDraining
	t.slowStartUntil.Store(0)
	t.drainGen++
	tg.log.Info("target draining", "target", t.key, "in_flight", t.inflight.Load(), "deregistration_delay", tg.spec.deregDelay)
	if t.inflight.Load() == 0 {
		tg.finish(t, drainNoRequests)
		return
	}
	gen := t.drainGen
	t.drainTimer = time.AfterFunc(tg.spec.deregDelay, func() {
		tg.mu.Lock()
		defer tg.mu.Unlock()
		if t.draining && t.drainGen == gen && tg.targets[t.key] == t {
			tg.finish(t, drainDelayElapsed)
		}
	})
}

// drained is called when a draining target's last request is done.
func (tg *targetGroup) drained(t *target) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if t.draining && tg.targets[t.key] == t && t.inflight.Load() == 0 {
		tg.finish(t, drainNoRequests)
	}
}

// finish forgets a draining target. When the delay ran out, the connections
// still open to it are closed, which fails the requests on them.
func (tg *targetGroup) finish(t *target, why string) {
	delete(tg.targets, t.key)
	if t.drainTimer != nil {
		t.drainTimer.Stop()
	}
	inflight := t.inflight.Load()
	if why == drainDelayElapsed {
		t.cut.Store(true) // or the transport would retry a GET on a new one
		t.conns.closeAll()
	}
	t.closeIdle()
	tg.deps.metrics.drains.WithLabelValues(tg.arn, why).Inc()
	tg.log.Info("target deregistered", "target", t.key, "reason", why, "in_flight", inflight)
	tg.rebuild()
}

// rebuild makes a new pool and sets the state gauges. Called with mu held.
func (tg *targetGroup) rebuild() {
	p := &pool{algorithm: tg.spec.algorithm, slowStart: tg.spec.slowStart}
	counts := map[string]float64{StateHealthy: 0, StateUnhealthy: 0, StateInitial: 0, StateDraining: 0, StateUnused: 0}
	for _, t := range tg.targets {
		counts[t.health.state]++
		if t.draining {
			continue
		}
		p.registered = append(p.registered, t)
		switch t.health.state {
		case StateHealthy:
			p.healthy = append(p.healthy, t)
		case StateUnhealthy:
			p.unhealthy = append(p.unhealthy, t)
		}
	}
	byKey := func(a, b *target) int { return cmp.Compare(a.key, b.key) }
	slices.SortFunc(p.registered, byKey)
	slices.SortFunc(p.healthy, byKey)
	slices.SortFunc(p.unhealthy, byKey)
	tg.pool.Store(p)
	if f := tg.deps.opts.OnHealthChange; f != nil {
		f(tg.arn)
	}

	gauges := tg.deps.metrics.targets
	if tg.removed && len(tg.targets) == 0 {
		gauges.DeletePartialMatch(prometheus.Labels{"target_group": tg.arn})
		return
	}
	for state, n := range counts {
		gauges.WithLabelValues(tg.arn, state).Set(n)
	}
}

// pick chooses the target of a request by the group's algorithm among the
// healthy targets or, when none is, among the unhealthy ones (fail open, as
// ELB does when a group contains only unhealthy targets: a target still in
// its initial checks, such as a task's replacement whose application is
// not listening yet, gets nothing), or else among all registered ones. It
// returns nil when the group has no target to send to.
func (tg *targetGroup) pick() *target {
	p := tg.pool.Load()
	list, failOpen := p.healthy, len(p.healthy) == 0
	if failOpen {
		list = p.unhealthy
	}
	if len(list) == 0 {
		list = p.registered
	}
	n := uint64(len(list))
	switch n {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	var start uint64
	switch p.algorithm {
	case AlgorithmLeastOutstanding:
		return leastOutstanding(list, tg.next.Add(1))
	case AlgorithmWeightedRandom:
		start = rand.Uint64()
	default:
		start = tg.next.Add(1) - 1
	}
	if p.slowStart > 0 && !failOpen {
		now := time.Now().UnixNano()
		for i := range n {
			t := list[(start+i)%n]
			if t.acceptsInSlowStart(now, p.slowStart) {
				return t
			}
		}
	}
	return list[start%n]
}

// pickOther chooses a target as pick does, other than those of tried; nil
// when the group has no other.
func (tg *targetGroup) pickOther(tried []*target) *target {
	n := len(tg.pool.Load().registered)
	for range n + 1 {
		t := tg.pick()
		if t == nil || !slices.Contains(tried, t) {
			return t
		}
	}
	return nil
}

// leastOutstanding returns the target with the fewest requests in flight,
// the first from a rotating start among equals.
func leastOutstanding(list []*target, start uint64) *target {
	n := uint64(len(list))
	var best *target
	var bestN int64
	for i := range n {
		t := list[(start+i)%n]
		if c := t.inflight.Load(); best == nil || c < bestN {
			best, bestN = t, c
		}
	}
	return best
}

// acceptsInSlowStart reports whether t takes a request it was picked for:
// always when out of slow start, otherwise with a chance growing linearly
// from 0 to 1 over the slow start duration.
func (t *target) acceptsInSlowStart(now int64, duration time.Duration) bool {
	until := t.slowStartUntil.Load()
	if until == 0 || now >= until {
		return true
	}
	share := 1 - float64(until-now)/float64(duration)
	return rand.Float64() < share
}

// acquire counts a request in flight; release uncounts it.
func (t *target) acquire() { t.inflight.Add(1) }

func (t *target) release() {
	if t.inflight.Add(-1) == 0 && t.drainingNow.Load() {
		t.tg.drained(t)
	}
}

// report returns the health of every target, DescribeTargetHealth's view.
func (tg *targetGroup) report() []TargetHealth {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := make([]TargetHealth, 0, len(tg.targets))
	for _, t := range tg.targets {
		port := t.Port
		if tg.spec.health.port != 0 {
			port = tg.spec.health.port
		}
		out = append(out, TargetHealth{
			Target:          t.Target,
			HealthCheckPort: strconv.Itoa(port),
			State:           t.health.state,
			Reason:          t.health.reason,
			Description:     t.health.description,
		})
	}
	slices.SortFunc(out, func(a, b TargetHealth) int {
		return cmp.Or(cmp.Compare(a.Target.ID, b.Target.ID), cmp.Compare(a.Target.Port, b.Target.Port),
			cmp.Compare(a.Target.Address, b.Target.Address))
	})
	return out
}
