package lbnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla/flotilla/internal/backoff"
	"github.com/flotilla/flotilla/internal/lb"
)

// NodeConfig configures a Node.
type NodeConfig struct {
	// ID names the node among those of the control plane (ValidNode).
	ID string
	// Source is the control plane.
	Source Source
	// LB are the options of the node's lb.Server. Its OnHealthChange is
	// the node's own, and when BindAddress is set here, LB.BindAddress is
	// that.
	LB lb.Options
	// BindAddress, when set, is the IP address every listener binds,
	// whatever its load balancer says: several nodes on one host serve the
	// same listener ports on their own addresses.
	BindAddress string
	// Logger gets the logs, with component=lbnode; slog.Default() when nil.
	Logger *slog.Logger
	// Registerer registers the node's metrics (and the lb.Server's, when
	// LB.Registerer is nil); a new registry when nil.
	Registerer prometheus.Registerer
	// Heartbeat is how often the node reports when nothing changed;
	// ReportTTL/3 when 0.
	Heartbeat time.Duration
}

// Node is a data plane node: an lb.Server that follows the configuration
// of a Source and reports its targets' health back. It keeps no state of
// its own: a node that restarts fetches the configuration again, and one
// that cannot reach the control plane keeps serving the configuration it
// has while it tries again.
type Node struct {
	cfg NodeConfig
	srv *lb.Server
	log *slog.Logger

	healthChanged chan struct{} // a report is due (capacity 1)

	mu      sync.Mutex
	applied lb.Config
	rev     int64             // of applied; 0 until the first
	failed  map[string]string // listeners that could not open, as last logged

	metrics nodeMetrics
}

type nodeMetrics struct {
	revision     prometheus.Gauge
	sourceErrors *prometheus.CounterVec
	reports      prometheus.Counter
}

// NewNode returns a node, not yet serving; Run runs it.
func NewNode(cfg NodeConfig) (*Node, error) {
	if !ValidNode(cfg.ID) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidNode, cfg.ID)
	}
	if cfg.Source == nil {
		return nil, errors.New("lbnode: a node needs a source")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = ReportTTL / 3
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("component", "lbnode", "node", cfg.ID), healthChanged: make(chan struct{}, 1)}
	opts := cfg.LB
	if opts.Logger == nil {
		opts.Logger = cfg.Logger
	}
	if opts.Registerer == nil {
		opts.Registerer = cfg.Registerer
	}
	if cfg.BindAddress != "" {
		opts.BindAddress = cfg.BindAddress
	}
	opts.OnHealthChange = func(string) { n.reportDue() }
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	n.srv = lb.New(opts)
	f := prometheus.WrapRegistererWith(prometheus.Labels{"node": cfg.ID}, cfg.Registerer)
	n.metrics = nodeMetrics{
		revision: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flotilla_lbnode_applied_revision",
			Help: "Store revision of the load balancer configuration the node applied last."}),
		sourceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flotilla_lbnode_source_errors_total",
			Help: "Failed calls to the control plane, by call (config, report)."}, []string{"call"}),
		reports: prometheus.NewCounter(prometheus.CounterOpts{Name: "flotilla_lbnode_reports_total",
			Help: "Reports of target health sent to the control plane."}),
	}
	f.MustRegister(n.metrics.revision, n.metrics.sourceErrors, n.metrics.reports)
	return n, nil
}

// Server is the node's data plane (for its listeners' addresses).
func (n *Node) Server() *lb.Server { return n.srv }

// AppliedRevision is the revision of the configuration the node serves; 0
// before the first.
func (n *Node) AppliedRevision() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rev
}

// reportDue asks for a report soon; it never blocks (lb calls it with
// locks held).
func (n *Node) reportDue() {
	select {
	case n.healthChanged <- struct{}{}:
	default:
	}
}

// Run serves until ctx ends, then shuts the data plane down gracefully.
func (n *Node) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { n.follow(ctx) })
	wg.Go(func() { n.report(ctx) })
	err := n.srv.Run(ctx)
	wg.Wait()
	return err
}

// follow applies every configuration the source gives.
func (n *Node) follow(ctx context.Context) {
	bo := backoff.New(200*time.Millisecond, 10*time.Second)
	var failed failures
	var seen int64 // the newest revision fetched, applied or refused
	for ctx.Err() == nil {
		after := max(seen, n.AppliedRevision())
		cfg, rev, err := n.cfg.Source.Config(ctx, after)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.metrics.sourceErrors.WithLabelValues("config").Inc()
			d := bo.Next()
			if k, log := failed.fail(); log {
				n.log.Warn("get the configuration; serving the last one meanwhile", "err", err, "failures", k, "applied_revision", after, "retry_in", d)
			}
			sleep(ctx, d)
			continue
		}
		if k := failed.ok(); k > 0 {
			n.log.Info("got the configuration again", "failures", k)
		}
		bo.Reset()
		if n.apply(cfg, rev) && rev < seen {
			seen = rev // the store was replaced: follow the new one
		}
		seen = max(seen, rev)
	}
}

// apply serves cfg, read at rev, unless the node serves it already. A
// configuration older than the one served (from another server that
// lags) is applied only when it differs, as when the store was replaced.
// It reports whether cfg is now served.
func (n *Node) apply(cfg lb.Config, rev int64) bool {
	if n.cfg.BindAddress != "" {
		lbs := make([]lb.LoadBalancer, len(cfg.LoadBalancers))
		for i, l := range cfg.LoadBalancers {
			l.BindAddress = ""
			lbs[i] = l
		}
		cfg.LoadBalancers = lbs
	}
	n.mu.Lock()
	applied, cur := n.applied, n.rev
	n.mu.Unlock()
	if rev == cur || (rev < cur && reflect.DeepEqual(cfg, applied)) {
		return false
	}
	if err := n.srv.Update(cfg); err != nil {
		if errors.Is(err, lb.ErrInvalidConfig) || errors.Is(err, lb.ErrClosed) {
			// Nothing applied: the node reports the revision it still
			// serves, and waits for the next change.
			n.log.Error("configuration refused", "revision", rev, "err", err)
			return false
		}
		// Applied except the listeners that could not open, which the
		// next Update tries again; they are in the reports, and logged
		// when they change (below), not at every configuration.
	}
	failed := n.srv.ListenerErrors()
	n.mu.Lock()
	n.applied, n.rev = cfg, rev
	logged := n.failed
	n.failed = failed
	n.mu.Unlock()
	for arn, why := range failed {
		if logged[arn] != why {
			n.log.Warn("listener cannot open", "listener", arn, "err", why, "revision", rev)
		}
	}
	for arn := range logged {
		if _, ok := failed[arn]; !ok {
			n.log.Info("listener no longer failing", "listener", arn, "revision", rev)
		}
	}
	n.metrics.revision.Set(float64(rev))
	n.log.Debug("configuration applied", "revision", rev)
	n.reportDue()
	return true
}

// report sends a report whenever one is due, and every Heartbeat.
func (n *Node) report(ctx context.Context) {
	heartbeat := time.NewTicker(n.cfg.Heartbeat)
	defer heartbeat.Stop()
	bo := backoff.New(200*time.Millisecond, 5*time.Second)
	var failed failures
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.healthChanged:
			// Let a burst of changes (targets of a group turning healthy
			// together) make one report.
			sleep(ctx, 20*time.Millisecond)
		case <-heartbeat.C:
		case <-retry:
		}
		retry = nil
		r, ok := n.snapshot()
		if !ok {
			continue // nothing applied yet: nothing to say
		}
		if err := n.cfg.Source.Report(ctx, r); err != nil {
			if ctx.Err() != nil {
				return
			}
			n.metrics.sourceErrors.WithLabelValues("report").Inc()
			d := bo.Next()
			if k, log := failed.fail(); log {
				n.log.Warn("report target health", "err", err, "failures", k, "retry_in", d)
			}
			retry = time.After(d)
			continue
		}
		if k := failed.ok(); k > 0 {
			n.log.Info("reported target health again", "failures", k)
		}
		bo.Reset()
		n.metrics.reports.Inc()
	}
}

// snapshot returns the node's report; ok is false before the first
// configuration.
func (n *Node) snapshot() (Report, bool) {
	n.mu.Lock()
	cfg, rev := n.applied, n.rev
	n.mu.Unlock()
	if rev == 0 {
		return Report{}, false
	}
	r := Report{Node: n.cfg.ID, AppliedRevision: rev, Groups: map[string][]lb.TargetHealth{}, ListenerErrors: n.srv.ListenerErrors()}
	for _, tg := range cfg.TargetGroups {
		if hs := n.srv.Health(tg.ARN); len(hs) > 0 {
			r.Groups[tg.ARN] = hs
		}
	}
	return r, true
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
