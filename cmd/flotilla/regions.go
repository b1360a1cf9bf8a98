package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/acm"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/elbv2"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/controller/service"
	"github.com/flotilla/flotilla/internal/lbnode"
	"github.com/flotilla/flotilla/internal/link"
	"github.com/flotilla/flotilla/internal/store"
)

// regionStack is what serves one region: its ECS, ELBv2 and ACM services,
// load balancing and service controller, over the region's view of the
// store.
type regionStack struct {
	name    string
	ecs     *ecs.Service
	elb     *elbv2.Service
	acm     *acm.Service
	lbs     *loadBalancing
	ctl     *service.Controller
	ecsJSON api.JSONService
	acmJSON api.JSONService
	elbQ    api.QueryService
}

// Run runs the region's housekeeping, load balancing and service
// controller until ctx ends or one of them fails.
func (r *regionStack) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 3)
	go func() { errs <- wrapRun("ecs housekeeping", r.ecs.Run(ctx)) }()
	go func() { errs <- wrapRun("load balancer", r.lbs.Run(ctx)) }()
	go func() { errs <- wrapRun("service controller", r.ctl.Run(ctx)) }()
	var first error
	for range 3 {
		if err := <-errs; err != nil && first == nil && ctx.Err() == nil {
			first = err
			cancel()
		}
	}
	return first
}

// wrapRun names the loop a Run error came from; the end of ctx is no
// error.
func wrapRun(what string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// regionsConfig is what every region's stack is made with.
type regionsConfig struct {
	Store         store.Store
	AccountID     string
	DefaultRegion string // the --region: the first region of a new store
	Endpoint      string
	DataDir       string
	GracePeriod   time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
}

// regions serves every region a request is signed for, each with its own
// resources, as AWS does: a region's stack is made on the first request
// signed for it, recorded in the store (flotilla.Region), and started
// again with the server. It is the API server's credentials lookup for
// the instance keys of every region.
type regions struct {
	cfg regionsConfig

	mu      sync.Mutex
	stacks  map[string]*regionStack
	pending []*regionStack // made, not yet started by Run
	wake    chan struct{}
}

func newRegions(cfg regionsConfig) *regions {
	return &regions{cfg: cfg, stacks: map[string]*regionStack{}, wake: make(chan struct{}, 1)}
}

// Open makes the stacks of the regions the store has records of. A store
// with none (a new one, or one written by a release that served a single
// region) gets its first region recorded with its resources at the keys
// themselves, where that release wrote them: the region its clusters'
// ARNs name, or the default region when it has none. Open runs before
// the server serves.
func (rs *regions) Open(ctx context.Context) error {
	recs, _, err := store.ListJSON[flotilla.Region](ctx, rs.cfg.Store, flotilla.RegionsPrefix, store.ListOptions{})
	if err != nil {
		return fmt.Errorf("list regions: %w", err)
	}
	if len(recs) == 0 {
		first, err := rs.legacyRegion(ctx)
		if err != nil {
			return err
		}
		if _, err := rs.record(ctx, first, ""); err != nil {
			return err
		}
		if recs, _, err = store.ListJSON[flotilla.Region](ctx, rs.cfg.Store, flotilla.RegionsPrefix, store.ListOptions{}); err != nil {
			return fmt.Errorf("list regions: %w", err)
		}
	}
	for _, r := range recs {
		if _, err := rs.get(ctx, r.Value.Name); err != nil {
			return err
		}
	}
	_, err = rs.get(ctx, rs.cfg.DefaultRegion)
	return err
}

// legacyRegion is the region of the resources a store without region
// records holds: the one its clusters' ARNs name, else the default.
func (rs *regions) legacyRegion(ctx context.Context) (string, error) {
	cs, _, err := store.ListJSON[flotilla.Cluster](ctx, rs.cfg.Store, flotilla.ClustersPrefix, store.ListOptions{Limit: 1})
	if err != nil {
		return "", fmt.Errorf("list clusters: %w", err)
	}
	if len(cs) == 1 {
		if p, ok := flotilla.ParseARN(cs[0].Value.ARN); ok && flotilla.ValidateRegion(p.Region) == nil {
			if p.Region != rs.cfg.DefaultRegion {
				rs.cfg.Logger.Warn("the stored resources are in another region than --region", "component", "main",
					"stored_region", p.Region, "region", rs.cfg.DefaultRegion)
			}
			return p.Region, nil
		}
	}
	return rs.cfg.DefaultRegion, nil
}

// get returns the stack of a region, making it on first use (and
// recording the region, its keys under RegionKeyPrefix, when it is new).
func (rs *regions) get(ctx context.Context, name string) (*regionStack, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if s := rs.stacks[name]; s != nil {
		return s, nil
	}
	if err := flotilla.ValidateRegion(name); err != nil {
		return nil, err
	}
	rec, err := rs.record(ctx, name, flotilla.RegionKeyPrefix(name))
	if err != nil {
		return nil, err
	}
	s, err := rs.makeStack(name, rec.KeyPrefix)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", name, err)
	}
	rs.stacks[name] = s
	rs.pending = append(rs.pending, s)
	select {
	case rs.wake <- struct{}{}:
	default:
	}
	return s, nil
}

// record returns the record of a region, creating it with keyPrefix when
// there is none.
func (rs *regions) record(ctx context.Context, name, keyPrefix string) (*flotilla.Region, error) {
	for range store.UpdateAttempts {
		rec, _, err := store.GetJSON[flotilla.Region](ctx, rs.cfg.Store, flotilla.RegionKey(name))
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("read region %s: %w", name, err)
		}
		next := flotilla.Region{Name: name, KeyPrefix: keyPrefix}
		_, err = store.CreateJSON(ctx, rs.cfg.Store, flotilla.RegionKey(name), next)
		if err == nil {
			return &next, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("record region %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("record region %s: %w", name, store.ErrConflict)
}

// makeStack makes the services of a region over the store's keys under
// keyPrefix.
func (rs *regions) makeStack(name, keyPrefix string) (*regionStack, error) {
	cfg := rs.cfg
	st := cfg.Store
	if keyPrefix != "" {
		st = store.WithPrefix(cfg.Store, keyPrefix)
	}
	log := cfg.Logger.With("region", name)
	// Every region's metrics carry its name.
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"region": name}, cfg.Registerer)
	lbs, err := newLoadBalancing(st, cfg.DataDir, log, reg)
	if err != nil {
		return nil, err
	}
	s := &regionStack{name: name, lbs: lbs}
	s.elb = elbv2.New(elbv2.Config{Store: st, Region: name, AccountID: cfg.AccountID, Health: lbs.Health})
	s.acm = acm.New(acm.Config{Store: st, Region: name, AccountID: cfg.AccountID, InUse: s.elb.CertificateUsers})
	s.ecs = ecs.New(ecs.Config{Store: st, Account: flotilla.Account{Region: name, ID: cfg.AccountID}, Logger: log,
		Endpoint: cfg.Endpoint, TargetGroupLoadBalancers: s.elb.TargetGroupLoadBalancers})
	s.ctl = service.New(service.Config{Store: st, Tasks: s.ecs, LoadBalancers: s.elb, InstanceGracePeriod: cfg.GracePeriod, Logger: log})
	s.ecsJSON, s.acmJSON, s.elbQ = s.ecs.JSONService(), s.acm.JSONService(), s.elb.QueryService()
	return s, nil
}

// Run runs the stacks of the regions, those made later included, until
// ctx ends or one of them fails.
func (rs *regions) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	errs := make(chan error, 1)
	for {
		rs.mu.Lock()
		start := rs.pending
		rs.pending = nil
		rs.mu.Unlock()
		for _, s := range start {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Run(ctx); err != nil {
					select {
					case errs <- fmt.Errorf("region %s: %w", s.name, err):
					default:
					}
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			return err
		case <-rs.wake:
		}
	}
}

// Register serves ECS, ELBv2, ACM, the agents' links and the load
// balancer nodes' API of every region on srv.
func (rs *regions) Register(ctx context.Context, srv *api.Server) error {
	first, err := rs.get(ctx, rs.cfg.DefaultRegion)
	if err != nil {
		return err
	}
	srv.HandleJSON(api.RegionalJSON(first.ecsJSON, func(ctx context.Context, region string) (api.JSONService, error) {
		s, err := rs.get(ctx, region)
		if err != nil {
			return api.JSONService{}, err
		}
		return s.ecsJSON, nil
	}))
	srv.HandleQuery(api.RegionalQuery(first.elbQ, func(ctx context.Context, region string) (api.QueryService, error) {
		s, err := rs.get(ctx, region)
		if err != nil {
			return api.QueryService{}, err
		}
		return s.elbQ, nil
	}))
	srv.HandleJSON(api.RegionalJSON(first.acmJSON, func(ctx context.Context, region string) (api.JSONService, error) {
		s, err := rs.get(ctx, region)
		if err != nil {
			return api.JSONService{}, err
		}
		return s.acmJSON, nil
	}))
	srv.HandleAuthenticated(link.Path, rs.handler(func(s *regionStack) http.Handler { return s.ecs.LinkHandler() }))
	srv.HandleAuthenticated(lbnode.Path+"/", rs.handler(func(s *regionStack) http.Handler { return lbnode.Handler(s.lbs.source, rs.cfg.Logger) }))
	return nil
}

// handler serves a request with the handler of its signing region's
// stack, made once per stack.
func (rs *regions) handler(of func(*regionStack) http.Handler) http.Handler {
	var mu sync.Mutex
	made := map[*regionStack]http.Handler{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := rs.get(r.Context(), api.SigningRegion(r.Context()))
		if err != nil {
			rs.cfg.Logger.Error("open region", "component", "main", "region", api.SigningRegion(r.Context()), "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		mu.Lock()
		h := made[s]
		if h == nil {
			h = of(s)
			made[s] = h
		}
		mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// SecretAccessKey looks up instance credentials in every region: their
// access key ids are unique, and a region's ECS service refuses the keys
// of another region's instances.
func (rs *regions) SecretAccessKey(ctx context.Context, accessKeyID string) (string, error) {
	rs.mu.Lock()
	stacks := make([]*regionStack, 0, len(rs.stacks))
	for _, s := range rs.stacks {
		stacks = append(stacks, s)
	}
	rs.mu.Unlock()
	chain := make(sigv4.Chain, 0, len(stacks))
	for _, s := range stacks {
		chain = append(chain, s.ecs)
	}
	return chain.SecretAccessKey(ctx, accessKeyID)
}
