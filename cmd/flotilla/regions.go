package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
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
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/lbnode"
	"github.com/flotilla/flotilla/internal/link"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/supervisor"
)

// regionStack is what serves one region: its ECS, ELBv2 and ACM services,
// placer, load balancing and service controller, over the region's view of
// the store.
type regionStack struct {
	name    string
	placer  *scheduler.Placer
	ecs     *ecs.Service
	elb     *elbv2.Service
	acm     *acm.Service
	lbs     *loadBalancing
	ctl     *service.Controller
	ecsJSON api.JSONService
	acmJSON api.JSONService
	elbQ    api.QueryService
}

// components are the parts of the region's stack that run, in the order
// they start: the placer that RunTask, StartTask and the service
// controller place through, the ECS housekeeping (every server sweeps the
// agents' links), the load balancers' configuration source and the
// in-process node that follows it, and the service controller, which runs
// on the leader only.
func (r *regionStack) components() []supervisor.Component {
	name := "region " + r.name + " "
	return []supervisor.Component{
		{Name: name + "placer", Run: r.placer.Run},
		{Name: name + "ecs housekeeping", Run: r.ecs.Run},
		{Name: name + "load balancer source", Run: r.lbs.source.Run},
		{Name: name + "load balancer node", Run: r.lbs.node.Run},
		{Name: name + "service controller", LeaderOnly: true, Run: r.ctl.Run},
	}
}

// regionsConfig is what every region's stack is made with.
type regionsConfig struct {
	Store         store.Store
	AccountID     string
	DefaultRegion string // the --region: the first region of a new store
	Endpoint      string
	DataDir       string
	GracePeriod   time.Duration
	// ReservedPorts are the ports Flotilla itself listens on, which no
	// listener may take: port → what holds it.
	ReservedPorts map[int]string
	// Leadership gates the regions' leader-only components (their service
	// controllers).
	Leadership supervisor.Leadership
	// ConnLimit bounds the client connections of every region's load
	// balancers together, the file descriptors being the process's; the
	// default bound (lb.NewConnLimit(0)) when nil.
	ConnLimit  *lb.ConnLimit
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// maxRegions is how many regions a server serves at most: each has a
// stack of its own (goroutines, an in-process load balancer node, metrics,
// a store read in every instance key lookup).
const maxRegions = 8

// Backoffs between the starts of a region's stack whose Run failed.
const (
	minRestartBackoff = time.Second
	maxRestartBackoff = time.Minute
)

// errRegionNotServed is returned for a region that has no stack here, to
// a caller that may not make one.
var errRegionNotServed = errors.New("region not served")

// errTooManyRegions is returned for a new region when maxRegions are
// served.
var errTooManyRegions = fmt.Errorf("at most %d regions are served", maxRegions)

// regions serves the AWS regions the account's requests are signed for,
// each with its own resources, as AWS does: a region's stack is made on
// the first request the account's key signs for it, recorded in the store
// (flotilla.Region), and started again with the server. Instances' and
// load balancer nodes' keys reach only the regions made already. It is the
// API server's credentials lookup for the instance keys of every region.
// Each region's stack is one component of a supervisor of the regions'
// own (Run), added when the region is made: the region set is one
// component of the server, started before the API and stopped after it.
type regions struct {
	cfg regionsConfig
	sup *supervisor.Supervisor
	// restartBackoff is the first wait before a failed stack starts
	// again, doubled up to maxRestartBackoff.
	restartBackoff time.Duration

	mu     sync.Mutex
	stacks map[string]*regionStack
	making map[string]chan struct{} // regions being made, closed when done
}

func newRegions(cfg regionsConfig) *regions {
	if cfg.ConnLimit == nil {
		cfg.ConnLimit = lb.NewConnLimit(0)
	}
	return &regions{cfg: cfg, restartBackoff: minRestartBackoff, stacks: map[string]*regionStack{},
		making: map[string]chan struct{}{}, sup: supervisor.New(supervisor.Config{Logger: cfg.Logger})}
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
		// The regions recorded are all served, however many.
		s, err := rs.stack(ctx, r.Value.Name, 0)
		if err != nil {
			return err
		}
		// Listeners written before the regions shared their port claims
		// claim their ports, for the listeners of every region to find.
		if err := s.elb.ClaimPorts(ctx); err != nil {
			return fmt.Errorf("region %s: %w", r.Value.Name, err)
		}
	}
	// --region is served, however many others are.
	_, err = rs.stack(ctx, rs.cfg.DefaultRegion, 0)
	return err
}

// legacyRegion is the region of the resources a store without region
// records holds, at the keys themselves: the one their ARNs name (of
// clusters, instances, task definitions, services, tasks, load balancers,
// target groups, listeners, certificates: every record's "arn"), else the
// default. A store whose resources name more than one region is refused,
// rather than one of them guessed.
func (rs *regions) legacyRegion(ctx context.Context) (string, error) {
	const page = 500
	found := map[string]string{} // region → an ARN in it
	after := ""
	for {
		kvs, _, err := rs.cfg.Store.List(ctx, "", store.ListOptions{StartAfter: after, Limit: page})
		if err != nil {
			return "", fmt.Errorf("read the stored resources' region: %w", err)
		}
		for _, kv := range kvs {
			var rec struct {
				ARN string `json:"arn"`
			}
			if strings.HasPrefix(kv.Key, flotilla.RegionKeysPrefix) || json.Unmarshal(kv.Value, &rec) != nil {
				continue
			}
			if r := arnRegion(rec.ARN); r != "" && found[r] == "" {
				found[r] = rec.ARN
			}
		}
		if len(kvs) < page {
			break
		}
		after = kvs[len(kvs)-1].Key
	}
	switch len(found) {
	case 0:
		return rs.cfg.DefaultRegion, nil
	case 1:
		for r := range found {
			if r != rs.cfg.DefaultRegion {
				rs.cfg.Logger.Warn("the stored resources are in another region than --region", "component", "main",
					"stored_region", r, "region", rs.cfg.DefaultRegion)
			}
			return r, nil
		}
	}
	var in []string
	for _, r := range slices.Sorted(maps.Keys(found)) {
		in = append(in, found[r])
	}
	return "", fmt.Errorf("the stored resources name %d regions (%s): a release that served one region wrote them, "+
		"and which region they belong to cannot be told; delete those of all regions but one with that release, then upgrade",
		len(found), strings.Join(in, ", "))
}

// arnRegion returns the region an ARN names, or "" when it names none that
// is valid.
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || flotilla.ValidateRegion(parts[3]) != nil {
		return ""
	}
	return parts[3]
}

// get returns the stack of a region, making it on first use (and
// recording the region, its keys under RegionKeyPrefix, when it is new),
// unless maxRegions are served (errTooManyRegions).
func (rs *regions) get(ctx context.Context, name string) (*regionStack, error) {
	return rs.stack(ctx, name, maxRegions)
}

// lookup returns the stack of a region made already, or nil.
func (rs *regions) lookup(name string) *regionStack {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.stacks[name]
}

// stack returns the stack of a region, making it when there is none and
// fewer than limit regions are served (0: no limit). The store is read
// and written without rs.mu held: a region being made is in rs.making,
// and a second caller waits for the first.
func (rs *regions) stack(ctx context.Context, name string, limit int) (*regionStack, error) {
	if err := flotilla.ValidateRegion(name); err != nil {
		return nil, err
	}
	for {
		rs.mu.Lock()
		if s := rs.stacks[name]; s != nil {
			rs.mu.Unlock()
			return s, nil
		}
		if done := rs.making[name]; done != nil {
			rs.mu.Unlock()
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if limit > 0 && len(rs.stacks)+len(rs.making) >= limit {
			rs.mu.Unlock()
			return nil, errTooManyRegions
		}
		done := make(chan struct{})
		rs.making[name] = done
		rs.mu.Unlock()

		s, err := rs.makeRecorded(ctx, name)

		rs.mu.Lock()
		delete(rs.making, name)
		close(done)
		if err != nil {
			rs.mu.Unlock()
			return nil, err
		}
		rs.stacks[name] = s
		rs.mu.Unlock()
		if err := rs.sup.Add(rs.stackComponent(s)); err != nil {
			return nil, fmt.Errorf("region %s: %w", name, err)
		}
		return s, nil
	}
}

// makeRecorded makes the stack of a region, recording the region first
// when it is new.
func (rs *regions) makeRecorded(ctx context.Context, name string) (*regionStack, error) {
	rec, err := rs.record(ctx, name, flotilla.RegionKeyPrefix(name))
	if err != nil {
		return nil, err
	}
	s, err := rs.makeStack(name, rec.KeyPrefix)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", name, err)
	}
	return s, nil
}

// serve returns the stack of the region a request is signed for: made on
// first use when the account's key signs it, only looked up when another
// key does (errRegionNotServed): an instance's or a load balancer node's
// key may not make regions.
func (rs *regions) serve(ctx context.Context, region string) (*regionStack, error) {
	if api.CallerPrincipal(ctx).Kind == api.Account {
		return rs.get(ctx, region)
	}
	if s := rs.lookup(region); s != nil {
		return s, nil
	}
	return nil, errRegionNotServed
}

// regionError is the error a service answers a request in region with
// when serve returns err: notServed's code (the service's invalid
// signature error) for a region not served, limit's for one too many.
func regionError(region string, err error, notServed, limit string) error {
	switch {
	case errors.Is(err, errRegionNotServed):
		return api.Errorf(notServed, "Credential should be scoped to a region this key's resources are in, not '%s'.", region)
	case errors.Is(err, errTooManyRegions):
		return api.Errorf(limit, "Region %s is not served: this server serves at most %d regions.", region, maxRegions)
	}
	return err
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
	st, elbStore := cfg.Store, cfg.Store
	if keyPrefix != "" {
		st = store.WithPrefix(cfg.Store, keyPrefix)
		// Every region's load balancers listen on the same address: the
		// claims of their ports are the store's own, one for all regions.
		elbStore = store.WithPrefixSharing(cfg.Store, keyPrefix, elbv2.PortClaimsPrefix)
	}
	log := cfg.Logger.With("region", name)
	// Every region's metrics carry its name.
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"region": name}, cfg.Registerer)
	lbs, err := newLoadBalancing(st, cfg.DataDir, cfg.ConnLimit, log, reg)
	if err != nil {
		return nil, err
	}
	s := &regionStack{name: name, lbs: lbs, placer: scheduler.NewPlacer(st, log)}
	s.elb = elbv2.New(elbv2.Config{Store: elbStore, Region: name, AccountID: cfg.AccountID, Health: lbs.Health,
		ListenerErrors: lbs.ListenerErrors, ReservedPorts: cfg.ReservedPorts, Logger: log})
	s.acm = acm.New(acm.Config{Store: st, Region: name, AccountID: cfg.AccountID, InUse: s.elb.CertificateUsers})
	s.ecs = ecs.New(ecs.Config{Store: st, Account: flotilla.Account{Region: name, ID: cfg.AccountID}, Logger: log,
		Endpoint: cfg.Endpoint, TargetGroupLoadBalancers: s.elb.TargetGroupLoadBalancers, Placer: s.placer})
	s.ctl = service.New(service.Config{Store: st, Tasks: s.ecs, LoadBalancers: s.elb, InstanceGracePeriod: cfg.GracePeriod, Logger: log})
	s.ecsJSON, s.acmJSON, s.elbQ = s.ecs.JSONService(), s.acm.JSONService(), s.elb.QueryService()
	return s, nil
}

// Run runs the stacks of the regions, those made later included, until
// ctx ends. A stack whose components fail is logged and started again
// after a backoff (runStack): one region's failure stops no other.
func (rs *regions) Run(ctx context.Context) error {
	return rs.sup.Run(ctx)
}

// stackComponent is the component that runs s, started again when it fails.
func (rs *regions) stackComponent(s *regionStack) supervisor.Component {
	return supervisor.Component{Name: "region " + s.name, Run: func(ctx context.Context) error {
		rs.runStack(ctx, s)
		return nil
	}}
}

// Run runs the region's components under a supervisor of its own, which
// runs the leader-only ones while this process leads, until ctx ends or
// one of them fails.
func (s *regionStack) Run(ctx context.Context, leadership supervisor.Leadership, log *slog.Logger) error {
	sup := supervisor.New(supervisor.Config{Leadership: leadership, Logger: log})
	if err := sup.Add(s.components()...); err != nil {
		return err
	}
	return sup.Run(ctx)
}

// runStack runs s until ctx ends, starting it again when it fails.
func (rs *regions) runStack(ctx context.Context, s *regionStack) {
	backoff := rs.restartBackoff
	for {
		started := time.Now()
		err := s.Run(ctx, rs.cfg.Leadership, rs.cfg.Logger)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > maxRestartBackoff {
			// It ran a while: this is a new failure, not the last one's.
			backoff = rs.restartBackoff
		}
		if err == nil {
			err = errors.New("stopped")
		}
		rs.cfg.Logger.Error("region stack failed; starting it again", "component", "main", "region", s.name,
			"backoff", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxRestartBackoff)
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
		s, err := rs.serve(ctx, region)
		if err != nil {
			return api.JSONService{}, regionError(region, err, sigv4.CodeInvalidSignature, "LimitExceededException")
		}
		return s.ecsJSON, nil
	}))
	srv.HandleQuery(api.RegionalQuery(first.elbQ, func(ctx context.Context, region string) (api.QueryService, error) {
		s, err := rs.serve(ctx, region)
		if err != nil {
			return api.QueryService{}, regionError(region, err, api.CodeSignatureDoesNotMatch, "OperationNotPermitted")
		}
		return s.elbQ, nil
	}))
	srv.HandleJSON(api.RegionalJSON(first.acmJSON, func(ctx context.Context, region string) (api.JSONService, error) {
		s, err := rs.serve(ctx, region)
		if err != nil {
			return api.JSONService{}, regionError(region, err, sigv4.CodeInvalidSignature, "LimitExceededException")
		}
		return s.acmJSON, nil
	}))
	srv.HandleAuthenticated(link.Path, api.RawRoute{SigningName: wire.SigningName, Permit: api.Instance,
		Handler: rs.handler(func(s *regionStack) http.Handler { return s.ecs.LinkHandler() })})
	srv.HandleAuthenticated(lbnode.Path+"/", api.RawRoute{SigningName: lbnode.SigningName, Permit: api.LBNode,
		Handler: rs.handler(func(s *regionStack) http.Handler { return lbnode.Handler(s.lbs.source, rs.cfg.Logger) })})
	return nil
}

// handler serves a request with the handler of its signing region's
// stack, made once per stack. A raw route makes no region: one with no
// stack is refused.
func (rs *regions) handler(of func(*regionStack) http.Handler) http.Handler {
	var mu sync.Mutex
	made := map[*regionStack]http.Handler{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region := api.SigningRegion(r.Context())
		s := rs.lookup(region)
		if s == nil {
			http.Error(w, fmt.Sprintf("Credential should be scoped to a region this key's resources are in, not '%s'.", region), http.StatusForbidden)
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
	stacks := rs.snapshot()
	chain := make(sigv4.Chain, 0, len(stacks))
	for _, s := range stacks {
		chain = append(chain, s.ecs)
	}
	return chain.SecretAccessKey(ctx, accessKeyID)
}

// Principal looks up the principal of instance credentials in every
// region, as SecretAccessKey looks up their secrets: the instance ARN it
// names carries the instance's region, so a key acts only on its own
// region's instance.
func (rs *regions) Principal(ctx context.Context, accessKeyID string) (api.Principal, error) {
	chain := api.PrincipalChain{}
	for _, s := range rs.snapshot() {
		chain = append(chain, s.ecs)
	}
	return chain.Principal(ctx, accessKeyID)
}

// snapshot returns the stacks made so far.
func (rs *regions) snapshot() []*regionStack {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	stacks := make([]*regionStack, 0, len(rs.stacks))
	for _, s := range rs.stacks {
		stacks = append(stacks, s)
	}
	return stacks
}
