package lbnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/cert"
	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/store"
)

// Source is the control plane as a data plane node sees it.
type Source interface {
	// Config returns the data plane configuration and the store revision
	// it was read at, once that revision is newer than afterRevision (0
	// for the first call). It returns the current configuration, whatever
	// its revision, after PollTimeout without a newer one, so that a
	// caller can tell a live control plane from a dead connection; and
	// ErrNoConfig when there is none yet. It returns ctx's error when ctx
	// ends first.
	Config(ctx context.Context, afterRevision int64) (cfg lb.Config, revision int64, err error)
	// Report records what a node observes, replacing its previous
	// report; the control plane sets Report.At by its own clock. It
	// returns ErrInvalidNode when the report's Node is not a valid node
	// name, and ErrTooManyNodes when it is a new node's and MaxNodes
	// nodes have reported within ReportTTL.
	Report(ctx context.Context, r Report) error
}

// PollTimeout is how long Config waits for a newer configuration before it
// returns the current one.
const PollTimeout = 25 * time.Second

// Errors of a Source.
var (
	// ErrNoConfig is returned by Config when the control plane has not
	// built a configuration yet.
	ErrNoConfig = errors.New("lbnode: no configuration yet")
	// ErrInvalidNode is returned by Report for a node name that is empty,
	// longer than 128 characters or has characters other than letters,
	// digits, '.', '_' and '-'.
	ErrInvalidNode = errors.New("lbnode: invalid node name")
	// ErrTooManyNodes is returned by Report for the first report of a node
	// when MaxNodes nodes have live reports.
	ErrTooManyNodes = errors.New("lbnode: too many nodes")
)

// MaxNodes is how many nodes' reports a control plane (one region's) keeps.
// A new node's report takes the place of the oldest report that is no
// longer live, and is refused while all of them are.
const MaxNodes = 64

var nodeName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// ValidNode reports whether name can name a node.
func ValidNode(name string) bool { return nodeName.MatchString(name) }

// StoreSourceOptions configure a StoreSource. Zero fields have defaults.
type StoreSourceOptions struct {
	// Logger gets the logs, with component=lbnode-source; slog.Default()
	// when nil.
	Logger *slog.Logger
	// Clock returns the time reports are stamped with; time.Now when nil.
	Clock func() time.Time
	// PollTimeout overrides the package's PollTimeout (for tests).
	PollTimeout time.Duration
	// Debounce is how long a change waits for more before the
	// configuration is rebuilt; 30ms when 0.
	Debounce time.Duration
	// Resync is how often the configuration is rebuilt without a change,
	// so that a missed event is made good; 30s when 0.
	Resync time.Duration
}

// StoreSource is a Source over the control plane's store: it builds the
// configuration with elb.BuildConfig whenever something under elb.Prefix,
// cert.RecordPrefix or flotilla.InstancesPrefix changes, and keeps the
// nodes' reports under Prefix. Run must be running for Config to answer; once
// Run has returned, Config answers at once.
type StoreSource struct {
	st   store.Store
	opts StoreSourceOptions
	log  *slog.Logger

	// newNode serializes the reports of new nodes, so that they keep
	// within MaxNodes.
	newNode sync.Mutex

	mu      sync.Mutex
	cfg     lb.Config
	rev     int64         // 0 until the first build
	changed chan struct{} // closed and replaced whenever cfg or rev changes
	stopped chan struct{} // closed when Run returns: polls end
	stop    sync.Once
}

// NewStoreSource returns a StoreSource over st.
func NewStoreSource(st store.Store, opts StoreSourceOptions) *StoreSource {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = PollTimeout
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 30 * time.Millisecond
	}
	if opts.Resync <= 0 {
		opts.Resync = 30 * time.Second
	}
	return &StoreSource{st: st, opts: opts, log: opts.Logger.With("component", "lbnode-source"), changed: make(chan struct{}), stopped: make(chan struct{})}
}

// Config implements Source.
func (s *StoreSource) Config(ctx context.Context, afterRevision int64) (lb.Config, int64, error) {
	timeout := time.NewTimer(s.opts.PollTimeout)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		cfg, rev, changed := s.cfg, s.rev, s.changed
		s.mu.Unlock()
		if rev != 0 && rev > afterRevision {
			return cfg, rev, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return lb.Config{}, 0, ctx.Err()
		case <-s.stopped:
			// The server is shutting down: end the poll now rather than
			// hold up the shutdown.
			if rev == 0 {
				return lb.Config{}, 0, ErrNoConfig
			}
			return cfg, rev, nil
		case <-timeout.C:
			if rev == 0 {
				return lb.Config{}, 0, ErrNoConfig
			}
			return cfg, rev, nil
		}
	}
}

// Report implements Source.
func (s *StoreSource) Report(ctx context.Context, r Report) error {
	if !ValidNode(r.Node) {
		return fmt.Errorf("%w: %q", ErrInvalidNode, r.Node)
	}
	r.At = s.opts.Clock()
	op, err := store.PutJSON(Key(r.Node), r)
	if err != nil {
		return err
	}
	for {
		txn := store.Txn{Ops: []store.Op{op}}
		_, err := s.st.Get(ctx, Key(r.Node))
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.newNode.Lock()
			txn, err = s.admit(ctx, r, op)
			if err == nil {
				_, err = s.st.Txn(ctx, txn)
			}
			s.newNode.Unlock()
			if errors.Is(err, store.ErrConflict) {
				continue // another node's report came or went: count again
			}
		case err == nil:
			_, err = s.st.Txn(ctx, txn)
		}
		switch {
		case errors.Is(err, ErrTooManyNodes):
			return err
		case err != nil:
			return fmt.Errorf("store the report of %s: %w", r.Node, err)
		}
		return nil
	}
}

// admit returns the transaction that stores op, the first report of r's
// node, within MaxNodes: it deletes the oldest report that is no longer
// live when MaxNodes are stored, and fails with store.ErrConflict when the
// reports it counted changed. It returns ErrTooManyNodes when MaxNodes
// reports are live.
func (s *StoreSource) admit(ctx context.Context, r Report, op store.Op) (store.Txn, error) {
	txn := store.Txn{Compares: []store.Compare{{Key: op.Key, ModRevision: 0}}, Ops: []store.Op{op}}
	items, _, err := store.ListJSON[Report](ctx, s.st, Prefix, store.ListOptions{})
	if err != nil {
		return txn, err
	}
	if len(items) < MaxNodes {
		return txn, nil
	}
	// Make room: the oldest reports that are no longer live go, as many
	// as keep the reports within MaxNodes (an earlier release kept any
	// number).
	var stale []store.Item[Report]
	for _, it := range items {
		if !it.Value.Live(r.At) {
			stale = append(stale, it)
		}
	}
	need := len(items) - MaxNodes + 1
	if len(stale) < need {
		return txn, fmt.Errorf("%w: %d nodes have reported in the last %s, and %d may; node %s may report once one of them has stopped for that long",
			ErrTooManyNodes, len(items)-len(stale), ReportTTL, MaxNodes, r.Node)
	}
	slices.SortFunc(stale, func(a, b store.Item[Report]) int { return a.Value.At.Compare(b.Value.At) })
	for _, it := range stale[:need] {
		txn.Compares = append(txn.Compares, store.Compare{Key: it.Key, ModRevision: it.ModRevision})
		txn.Ops = append(txn.Ops, store.Op{Key: it.Key, Delete: true})
	}
	return txn, nil
}

// Run keeps the configuration Config serves in step with the store until
// ctx ends. It also deletes the reports of nodes gone for longer than
// reportRetention.
func (s *StoreSource) Run(ctx context.Context) error {
	defer s.stop.Do(func() { close(s.stopped) })
	resync := time.NewTicker(s.opts.Resync)
	defer resync.Stop()
	for ctx.Err() == nil {
		if err := s.follow(ctx, resync.C); err != nil && ctx.Err() == nil {
			s.log.Warn("follow the store", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// follow watches the store from a build of the configuration until a
// watch ends.
func (s *StoreSource) follow(ctx context.Context, resync <-chan time.Time) error {
	rev, err := s.st.Rev(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	elbEvents, err := s.st.Watch(wctx, elb.Prefix, rev)
	if err != nil {
		return err
	}
	instEvents, err := s.st.Watch(wctx, flotilla.InstancesPrefix, rev)
	if err != nil {
		return err
	}
	// Certificates imported again into ACM change what HTTPS listeners
	// present.
	certEvents, err := s.st.Watch(wctx, cert.RecordPrefix, rev)
	if err != nil {
		return err
	}
	// Anything may have changed before the watches: publish the build.
	if err := s.build(ctx, true); err != nil {
		return err
	}
	var retry <-chan time.Time // a failed build is tried again
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		elbChanged, instChanged := false, false
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-elbEvents:
			if !ok {
				return nil // fell behind: build and watch again
			}
			elbChanged = true
		case _, ok := <-certEvents:
			if !ok {
				return nil
			}
			instChanged = true // published only if the material changed
		case _, ok := <-instEvents:
			if !ok {
				return nil
			}
			instChanged = true
		case <-resync:
		case <-retry:
			elbChanged = true
		case <-prune.C:
			if err := s.prune(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("delete old reports", "err", err)
			}
			continue
		}
		if elbChanged || instChanged {
			// Gather the burst.
			deadline := time.After(s.opts.Debounce)
		gather:
			for {
				select {
				case _, ok := <-elbEvents:
					if !ok {
						return nil
					}
					elbChanged = true
				case _, ok := <-certEvents:
					if !ok {
						return nil
					}
				case _, ok := <-instEvents:
					if !ok {
						return nil
					}
				case <-deadline:
					break gather
				case <-ctx.Done():
					return nil
				}
			}
		}
		retry = nil
		if err := s.build(ctx, elbChanged); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("build the load balancer configuration", "err", err)
			retry = time.After(time.Second)
		}
	}
}

// build builds the configuration and publishes it when it differs from the
// last, or when force is set: a record under elb.Prefix was written,
// maybe with no effect on the configuration, and the nodes must still
// learn of its revision (the service controller waits for it).
func (s *StoreSource) build(ctx context.Context, force bool) error {
	cfg, rev, err := elb.BuildConfig(ctx, s.st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev <= s.rev || (!force && reflect.DeepEqual(cfg, s.cfg)) {
		return nil
	}
	s.cfg, s.rev = cfg, rev
	close(s.changed)
	s.changed = make(chan struct{})
	s.log.Debug("load balancer configuration", "revision", rev, "load_balancers", len(cfg.LoadBalancers),
		"listeners", len(cfg.Listeners), "rules", len(cfg.Rules), "target_groups", len(cfg.TargetGroups))
	return nil
}

// reportRetention is how long the report of a node that stopped reporting
// is kept (for the record) before it is deleted.
const reportRetention = time.Hour

// prune deletes the reports older than reportRetention.
func (s *StoreSource) prune(ctx context.Context) error {
	items, _, err := store.ListJSON[Report](ctx, s.st, Prefix, store.ListOptions{})
	if err != nil {
		return err
	}
	now := s.opts.Clock()
	for _, it := range items {
		if now.Sub(it.Value.At) < reportRetention {
			continue
		}
		_, err := s.st.Txn(ctx, store.Txn{Compares: []store.Compare{{Key: it.Key, ModRevision: it.ModRevision}},
			Ops: []store.Op{{Key: it.Key, Delete: true}}})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}
