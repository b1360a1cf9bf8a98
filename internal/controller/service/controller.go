package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/lbnode"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/store"
)

// Tasks is what the controller needs to start and stop tasks; the ECS
// service implements it (placing through the scheduler).
type Tasks interface {
	// StartServiceTasks places count tasks of a deployment (or one on
	// instanceID for a DAEMON service) and returns those placed and the
	// placement failures.
	StartServiceTasks(ctx context.Context, svc *flotilla.Service, deploymentID, taskDefinitionARN string, count int, instanceID string) ([]flotilla.Task, []scheduler.Failure, error)
	// StopServiceTask asks a task to stop; lost marks it STOPPED at once.
	StopServiceTask(ctx context.Context, cluster, taskID, code, reason string, lost bool) error
	// SetTaskTargets records a running task's load balancer targets and
	// returns the task as it is now.
	SetTaskTargets(ctx context.Context, cluster, taskID string, targets []flotilla.TaskTarget) (*flotilla.Task, error)
	// FinishDeactivation moves a DEACTIVATING task whose targets drained
	// on to STOPPING.
	FinishDeactivation(ctx context.Context, cluster, taskID string) error
}

// Config configures the controller.
type Config struct {
	Store store.Store
	Tasks Tasks
	// LoadBalancers, when set, puts the tasks of services with
	// loadBalancers behind their target groups.
	LoadBalancers LoadBalancers
	// InstanceGracePeriod is how long an instance's agent may be gone before
	// its service tasks are replaced elsewhere.
	InstanceGracePeriod time.Duration
	// Resync is how often every service is reconciled even without a change.
	Resync time.Duration
	Clock  func() time.Time
	Logger *slog.Logger
}

// Controller keeps every service converging on its desired state: it
// reconciles a service when the service, one of its tasks or an instance of
// its cluster changes, when a reconcile asked to be woken, and periodically,
// so that correctness never depends on seeing every event.
type Controller struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New returns a controller.
func New(cfg Config) *Controller {
	if cfg.InstanceGracePeriod == 0 {
		cfg.InstanceGracePeriod = 30 * time.Second
	}
	if cfg.Resync == 0 {
		cfg.Resync = 5 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{cfg: cfg, log: log.With("component", "service-controller"), now: cfg.Clock}
}

// key names a service: cluster/name.
type key struct{ cluster, name string }

// Run reconciles services until ctx ends.
//
// Agents' absences count from when the store first answered at the
// earliest (Input.HeardSince), and from when it answered again after the
// controller lost it (Rev or Watch failed): the server could not hear from
// agents before it started, nor while it had lost the store, so a long
// restart or a partition is not held against them. A watch that merely
// fell behind and starts again does not move it, or tasks on agents that
// are really gone would never count as lost.
func (c *Controller) Run(ctx context.Context) error {
	var since time.Time // zero until the store answers
	for ctx.Err() == nil {
		if err := c.runWatching(ctx, &since); err != nil && ctx.Err() == nil {
			c.log.Warn("service controller watch ended; starting again", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// runWatching reconciles services from a snapshot and a watch until the
// watch ends. *since is when agents could first be heard from: set when
// the store answers and it is zero, and zeroed when the store is lost.
func (c *Controller) runWatching(ctx context.Context, since *time.Time) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rev, err := c.cfg.Store.Rev(ctx)
	if err != nil {
		*since = time.Time{}
		return err
	}
	if since.IsZero() {
		// The store answers (again): from now on, agents' links could be
		// heard.
		*since = c.now().UTC()
	}
	events := make(chan store.Event, 1024)
	broken := make(chan error, 3)
	prefixes := []string{flotilla.ServicesPrefix, flotilla.TasksPrefix, flotilla.InstancesPrefix}
	if c.cfg.LoadBalancers != nil {
		// Target health and draining, as the data plane nodes report them.
		prefixes = append(prefixes, lbnode.Prefix)
	}
	for _, prefix := range prefixes {
		ch, err := c.cfg.Store.Watch(wctx, prefix, rev)
		if err != nil {
			if !errors.Is(err, store.ErrCompacted) {
				*since = time.Time{}
			}
			return err
		}
		go func() {
			for ev := range ch {
				select {
				case events <- ev:
				case <-wctx.Done():
					return
				}
			}
			broken <- fmt.Errorf("watch %s closed", prefix)
		}()
	}
	dirty := map[key]bool{}
	wake := map[key]time.Time{}
	if err := c.markAll(ctx, dirty, ""); err != nil {
		return err
	}
	resync := time.NewTicker(c.cfg.Resync)
	defer resync.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Reconcile what is dirty, then wait for more.
		for k := range dirty {
			delete(dirty, k)
			next, err := c.reconcile(ctx, k, *since)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				c.log.Warn("reconcile service", "cluster", k.cluster, "service", k.name, "err", err)
				next = c.now().Add(time.Second)
			}
			if !next.IsZero() {
				if w, ok := wake[k]; !ok || next.Before(w) {
					wake[k] = next
				}
			}
		}
		earliest := time.Time{}
		for _, w := range wake {
			if earliest.IsZero() || w.Before(earliest) {
				earliest = w
			}
		}
		if !earliest.IsZero() {
			timer.Reset(max(time.Until(earliest), time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-broken:
			return err
		case <-resync.C:
			if err := c.markAll(ctx, dirty, ""); err != nil {
				return err
			}
		case <-timer.C:
			now := c.now()
			for k, w := range wake {
				if !w.After(now) {
					dirty[k] = true
					delete(wake, k)
				}
			}
		case ev := <-events:
			c.classify(ctx, ev, dirty)
			// Coalesce a burst of changes.
			deadline := time.After(20 * time.Millisecond)
		burst:
			for {
				select {
				case ev := <-events:
					c.classify(ctx, ev, dirty)
				case <-deadline:
					break burst
				}
			}
		}
	}
}

// classify marks the services an event concerns.
func (c *Controller) classify(ctx context.Context, ev store.Event, dirty map[key]bool) {
	k := ev.KV.Key
	switch {
	case strings.HasPrefix(k, flotilla.ServicesPrefix):
		rest := strings.TrimPrefix(k, flotilla.ServicesPrefix)
		if cl, name, ok := strings.Cut(rest, "/"); ok {
			dirty[key{cl, name}] = true
		}
	case strings.HasPrefix(k, flotilla.TasksPrefix):
		for _, kv := range []*store.KV{&ev.KV, ev.PrevKV} {
			if kv == nil || len(kv.Value) == 0 {
				continue
			}
			var t struct {
				Cluster string `json:"cluster"`
				Group   string `json:"group"`
			}
			if json.Unmarshal(kv.Value, &t) == nil && strings.HasPrefix(t.Group, "service:") {
				dirty[key{t.Cluster, strings.TrimPrefix(t.Group, "service:")}] = true
			}
		}
	case strings.HasPrefix(k, lbnode.Prefix):
		_ = c.markLoadBalanced(ctx, dirty)
	case strings.HasPrefix(k, flotilla.InstancesPrefix):
		rest := strings.TrimPrefix(k, flotilla.InstancesPrefix)
		if cl, _, ok := strings.Cut(rest, "/"); ok {
			_ = c.markAll(ctx, dirty, cl)
		}
	}
}

// markAll marks every service (of one cluster, when cluster is set).
func (c *Controller) markAll(ctx context.Context, dirty map[key]bool, cluster string) error {
	prefix := flotilla.ServicesPrefix
	if cluster != "" {
		prefix += cluster + "/"
	}
	items, _, err := store.ListJSON[flotilla.Service](ctx, c.cfg.Store, prefix, store.ListOptions{})
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.Value.Status != flotilla.ServiceInactive {
			dirty[key{it.Value.Cluster, it.Value.Name}] = true
		}
	}
	return nil
}

// markLoadBalanced marks every service with load balancers, or with tasks
// that may still have targets.
func (c *Controller) markLoadBalanced(ctx context.Context, dirty map[key]bool) error {
	items, _, err := store.ListJSON[flotilla.Service](ctx, c.cfg.Store, flotilla.ServicesPrefix, store.ListOptions{})
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.Value.Status != flotilla.ServiceInactive && len(it.Value.LoadBalancers) > 0 {
			dirty[key{it.Value.Cluster, it.Value.Name}] = true
		}
	}
	return nil
}

// reconcile decides and applies one service's plan; it returns when to look
// again at the latest. since is when the controller could first have heard
// from agents (Input.HeardSince).
func (c *Controller) reconcile(ctx context.Context, k key, since time.Time) (time.Time, error) {
	svc, rev, err := store.GetJSON[flotilla.Service](ctx, c.cfg.Store, flotilla.ServiceKey(k.cluster, k.name))
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil || svc.Status == flotilla.ServiceInactive {
		return time.Time{}, err
	}
	tasks, _, err := store.ListJSON[flotilla.Task](ctx, c.cfg.Store, flotilla.ClusterTasksPrefix(k.cluster), store.ListOptions{})
	if err != nil {
		return time.Time{}, err
	}
	instances, _, err := store.ListJSON[flotilla.ContainerInstance](ctx, c.cfg.Store, flotilla.ClusterInstancesPrefix(k.cluster), store.ListOptions{})
	if err != nil {
		return time.Time{}, err
	}
	in := Input{Service: *svc, Now: c.now().UTC(), HeardSince: since, InstanceGracePeriod: c.cfg.InstanceGracePeriod}
	var all []flotilla.Task
	for _, it := range tasks {
		all = append(all, it.Value)
		if it.Value.Group == flotilla.ServiceGroup(svc.Name) {
			in.Tasks = append(in.Tasks, it.Value)
		}
	}
	in.InstanceGroups = scheduler.GroupsByInstance(all)
	for _, it := range instances {
		in.Instances = append(in.Instances, it.Value)
	}
	var targetsNext time.Time
	in.Tasks, in.TargetHealth, targetsNext, err = c.syncTargets(ctx, svc, in.Tasks, in.Instances)
	if err != nil {
		return time.Time{}, err
	}
	in.LoadBalanced = in.TargetHealth != nil
	in.Constraints, in.Strategies = svc.PlacementConstraints, svc.PlacementStrategy
	plan := Reconcile(in)
	next := plan.Service
	var events []string
	for _, st := range plan.Stop {
		if err := c.cfg.Tasks.StopServiceTask(ctx, k.cluster, st.TaskID, st.StopCode, st.Reason, st.Lost); err != nil {
			return time.Time{}, fmt.Errorf("stop task %s: %w", st.TaskID, err)
		}
	}
	if n := len(plan.Stop); n > 0 {
		ids := make([]string, 0, n)
		for _, st := range plan.Stop {
			ids = append(ids, "(task "+st.TaskID+")")
		}
		events = append(events, fmt.Sprintf("(service %s) has stopped %d running tasks: %s.", svc.Name, n, strings.Join(ids, " ")))
	}
	retry := plan.Next
	if !targetsNext.IsZero() && (retry.IsZero() || targetsNext.Before(retry)) {
		retry = targetsNext
	}
	changed := plan.Changed
	now := c.now().UTC()
	for _, e := range events {
		if addEvent(&next, e, now) {
			changed = true
		}
	}
	if next.Status == flotilla.ServiceDraining && !hasLiveTasks(in.Tasks) && len(plan.Start) == 0 {
		next.Status, changed = flotilla.ServiceInactive, true
	}
	// Deployments the plan dropped are over: keep them for ListServiceDeployments.
	kept := map[string]bool{}
	for _, d := range next.Deployments {
		kept[d.ID] = true
	}
	for _, d := range svc.Deployments {
		if !kept[d.ID] {
			d.Status = flotilla.DeploymentInactive
			next.History = append([]flotilla.Deployment{d}, next.History...)
			changed = true
		}
	}
	if len(next.History) > flotilla.MaxDeploymentHistory {
		next.History = next.History[:flotilla.MaxDeploymentHistory]
	}
	// The service is written before any task starts, so that a task is
	// never started for a deployment (a rollback, say) that did not make it
	// into the store.
	if changed {
		next.Version = svc.Version + 1
		ok, err := c.writeService(ctx, k, rev, &next)
		if err != nil || !ok {
			return c.now(), err // changed meanwhile: look again at once
		}
	}
	var startEvents []string
	for _, st := range plan.Start {
		started, failures, err := c.cfg.Tasks.StartServiceTasks(ctx, &next, st.DeploymentID, st.TaskDefinitionARN, st.Count, st.InstanceID)
		if err != nil {
			return time.Time{}, fmt.Errorf("start tasks: %w", err)
		}
		if len(started) > 0 {
			ids := make([]string, 0, len(started))
			for _, t := range started {
				ids = append(ids, "(task "+t.ID+")")
			}
			startEvents = append(startEvents, fmt.Sprintf("(service %s) has started %d tasks: %s.", svc.Name, len(started), strings.Join(ids, " ")))
		}
		if len(started) < st.Count && st.InstanceID == "" {
			startEvents = append(startEvents, unplaceable(svc.Name, failures))
			// Capacity may appear at any moment; look again soon.
			if at := c.now().Add(2 * time.Second); retry.IsZero() || at.Before(retry) {
				retry = at
			}
		}
	}
	if len(startEvents) > 0 {
		if err := c.addEvents(ctx, k, startEvents); err != nil {
			return time.Time{}, err
		}
	}
	return retry, nil
}

// writeService stores the service if it is still at rev; ok is false when
// it changed meanwhile.
func (c *Controller) writeService(ctx context.Context, k key, rev int64, svc *flotilla.Service) (bool, error) {
	op, err := store.PutJSON(flotilla.ServiceKey(k.cluster, k.name), svc)
	if err != nil {
		return false, err
	}
	_, err = c.cfg.Store.Txn(ctx, store.Txn{Compares: []store.Compare{{Key: op.Key, ModRevision: rev}}, Ops: []store.Op{op}})
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// addEvents adds events to the stored service, retrying on conflict.
func (c *Controller) addEvents(ctx context.Context, k key, events []string) error {
	for attempt := 0; attempt < 10; attempt++ {
		svc, rev, err := store.GetJSON[flotilla.Service](ctx, c.cfg.Store, flotilla.ServiceKey(k.cluster, k.name))
		if err != nil {
			return err
		}
		changed := false
		for _, e := range events {
			changed = addEvent(svc, e, c.now().UTC()) || changed
		}
		if !changed {
			return nil
		}
		svc.Version++
		ok, err := c.writeService(ctx, k, rev, svc)
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("add events to service %s: %w", k.name, store.ErrConflict)
}

func hasLiveTasks(tasks []flotilla.Task) bool {
	for _, t := range tasks {
		if t.LastStatus != flotilla.TaskStopped {
			return true
		}
	}
	return false
}

// unplaceable words a placement failure as ECS does.
func unplaceable(name string, failures []scheduler.Failure) string {
	msg := fmt.Sprintf("(service %s) was unable to place a task because no container instance met all of its requirements.", name)
	for _, f := range failures {
		if f.InstanceID != "" {
			return msg + fmt.Sprintf(" The closest matching (container-instance %s) failed with reason %s.", f.InstanceID, f.Reason)
		}
	}
	if len(failures) > 0 && failures[0].Reason == scheduler.ReasonNoInstances {
		return fmt.Sprintf("(service %s) was unable to place a task because no container instance met all of its requirements. Reason: No Container Instances were found in your cluster.", name)
	}
	return msg
}

// addEvent puts an event first, unless the newest event says the same
// within the last minute (as ECS avoids repeating itself).
func addEvent(svc *flotilla.Service, msg string, now time.Time) bool {
	for _, e := range svc.Events {
		if e.Message == msg && now.Sub(e.CreatedAt) < time.Minute {
			return false
		}
		break
	}
	svc.Events = append([]flotilla.ServiceEvent{{ID: flotilla.NewID()[:32], CreatedAt: now, Message: msg}}, svc.Events...)
	if len(svc.Events) > flotilla.MaxServiceEvents {
		svc.Events = svc.Events[:flotilla.MaxServiceEvents]
	}
	return true
}
