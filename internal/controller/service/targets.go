package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/lbnode"
	"github.com/flotilla/flotilla/internal/store"
)

// LoadBalancers is what the controller needs of the ELBv2 service to put a
// service's tasks behind its target groups; the ELBv2 service implements
// it. Its errors wrap elb.ErrTargetGroupNotFound when a group is gone.
type LoadBalancers interface {
	TargetGroupState(ctx context.Context, arn string) (*elb.TargetGroupState, error)
	RegisterTaskTargets(ctx context.Context, arn string, targets []lb.Target) error
	DeregisterTaskTargets(ctx context.Context, arn string, targets []lb.Target) error
}

// targetSync is one pass of putting a service's tasks behind its target
// groups, before Reconcile: it is level-triggered like the rest, so a
// restart in the middle converges.
//
//   - A running task (desired and last status RUNNING) gets its targets
//     recorded on the task (Task.Targets: the host port of the container
//     port in each group, on its instance), then registered.
//   - A task that is no longer desired RUNNING has its recorded targets
//     deregistered. One that is DEACTIVATING (it was stopped while
//     registered) moves on to STOPPING once its targets have drained on
//     every live data plane node (each has applied the group's
//     deregistration and no longer lists the target), or once the group's
//     deregistration delay has passed since it was asked to stop.
//   - The health of the running tasks' targets, merged over the live
//     nodes' reports, is Reconcile's TargetHealth.
type targetSync struct {
	c       *Controller
	now     time.Time
	groups  map[string]*elb.TargetGroupState // by ARN; nil when unreadable
	reports []lbnode.Report                  // live ones
	merged  map[string][]lb.TargetHealth     // by group ARN
	next    time.Time
}

// syncTargets does the target work of one reconcile of svc and returns the
// tasks as they are afterwards, the health for Reconcile and when to look
// again at the latest.
func (c *Controller) syncTargets(ctx context.Context, svc *flotilla.Service, tasks []flotilla.Task, instances []flotilla.ContainerInstance) ([]flotilla.Task, map[string]TargetHealth, time.Time, error) {
	refs := slices.DeleteFunc(slices.Clone(svc.LoadBalancers), func(r flotilla.ServiceLoadBalancer) bool { return r.TargetGroupARN == "" })
	if c.cfg.LoadBalancers == nil || (len(refs) == 0 && !hasTargets(tasks)) {
		return tasks, nil, time.Time{}, nil
	}
	ts := &targetSync{c: c, now: c.now().UTC(), groups: map[string]*elb.TargetGroupState{}, merged: map[string][]lb.TargetHealth{}}
	reports, _, err := store.ListJSON[lbnode.Report](ctx, c.cfg.Store, lbnode.Prefix, store.ListOptions{})
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	for _, it := range reports {
		if it.Value.Live(ts.now) {
			ts.reports = append(ts.reports, it.Value)
		}
	}
	insts := map[string]*flotilla.ContainerInstance{}
	for i := range instances {
		insts[instances[i].ID] = &instances[i]
	}
	health := map[string]TargetHealth{}
	register := map[string][]lb.Target{}
	deregister := map[string][]lb.Target{}
	out := slices.Clone(tasks)
	for i := range out {
		t := &out[i]
		switch {
		case t.DesiredStatus == flotilla.TaskRunning && t.LastStatus == flotilla.TaskRunning:
			want, err := ts.targetsOf(ctx, t, refs, insts[t.InstanceID])
			if err != nil {
				return nil, nil, time.Time{}, err
			}
			if want != nil && !slices.Equal(want, t.Targets) {
				nt, err := c.cfg.Tasks.SetTaskTargets(ctx, t.Cluster, t.ID, want)
				if err != nil {
					return nil, nil, time.Time{}, fmt.Errorf("record targets of task %s: %w", t.ID, err)
				}
				*t = *nt
			}
			if t.DesiredStatus != flotilla.TaskRunning {
				continue // stopped meanwhile: the next pass deregisters it
			}
			for _, tt := range t.Targets {
				if g, err := ts.group(ctx, tt.TargetGroupARN); err != nil {
					return nil, nil, time.Time{}, err
				} else if g != nil && !g.Has(tt.ID, tt.Port) {
					register[tt.TargetGroupARN] = append(register[tt.TargetGroupARN], lb.Target{ID: tt.ID, Port: tt.Port})
				}
			}
			if h, err := ts.health(ctx, t); err != nil {
				return nil, nil, time.Time{}, err
			} else {
				health[t.ID] = h
			}
		case len(t.Targets) > 0 && t.DesiredStatus == flotilla.TaskStopped:
			drained := true
			var delay time.Duration
			for _, tt := range t.Targets {
				g, err := ts.group(ctx, tt.TargetGroupARN)
				if err != nil {
					return nil, nil, time.Time{}, err
				}
				if g == nil {
					continue // the group is gone, and its targets with it
				}
				delay = max(delay, g.DeregistrationDelay)
				if g.Has(tt.ID, tt.Port) {
					deregister[tt.TargetGroupARN] = append(deregister[tt.TargetGroupARN], lb.Target{ID: tt.ID, Port: tt.Port})
					drained = false
				} else if !ts.drained(g, tt) {
					drained = false
				}
			}
			if t.LastStatus != flotilla.TaskDeactivating {
				continue
			}
			deadline := t.StoppingAt.Add(delay)
			if drained || !ts.now.Before(deadline) {
				if err := c.cfg.Tasks.FinishDeactivation(ctx, t.Cluster, t.ID); err != nil {
					return nil, nil, time.Time{}, fmt.Errorf("finish deactivating task %s: %w", t.ID, err)
				}
				continue
			}
			ts.wake(deadline)
		}
	}
	for arn, targets := range deregister {
		if err := c.cfg.LoadBalancers.DeregisterTaskTargets(ctx, arn, targets); err != nil && !notFound(err) {
			return nil, nil, time.Time{}, fmt.Errorf("deregister targets from %s: %w", arn, err)
		}
	}
	for arn, targets := range register {
		if err := c.cfg.LoadBalancers.RegisterTaskTargets(ctx, arn, targets); err != nil && !notFound(err) {
			return nil, nil, time.Time{}, fmt.Errorf("register targets with %s: %w", arn, err)
		}
	}
	if len(refs) == 0 {
		health = nil // the service no longer has load balancers
	}
	return out, health, ts.next, nil
}

func hasTargets(tasks []flotilla.Task) bool {
	for _, t := range tasks {
		if len(t.Targets) > 0 {
			return true
		}
	}
	return false
}

func notFound(err error) bool {
	return errors.Is(err, elb.ErrTargetGroupNotFound)
}

func (ts *targetSync) wake(at time.Time) {
	if ts.next.IsZero() || at.Before(ts.next) {
		ts.next = at
	}
}

// group returns a target group's state, read once per pass; nil when the
// group does not exist.
func (ts *targetSync) group(ctx context.Context, arn string) (*elb.TargetGroupState, error) {
	if g, ok := ts.groups[arn]; ok {
		return g, nil
	}
	g, err := ts.c.cfg.LoadBalancers.TargetGroupState(ctx, arn)
	if notFound(err) {
		g, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	ts.groups[arn] = g
	return g, nil
}

// targetsOf returns the targets a running task should have: for each load
// balancer, the host port its container publishes for the container port,
// on its instance (by instance ID or address, as the group's target type
// says). It returns nil while some are unknown (no such binding yet, the
// instance or the group gone).
func (ts *targetSync) targetsOf(ctx context.Context, t *flotilla.Task, refs []flotilla.ServiceLoadBalancer, ci *flotilla.ContainerInstance) ([]flotilla.TaskTarget, error) {
	if ci == nil || len(refs) == 0 {
		return nil, nil
	}
	var out []flotilla.TaskTarget
	for _, ref := range refs {
		g, err := ts.group(ctx, ref.TargetGroupARN)
		if err != nil || g == nil {
			return nil, err
		}
		port := hostPort(t, ref.ContainerName, ref.ContainerPort)
		if port == 0 {
			return nil, nil
		}
		id := ci.EC2InstanceID
		if g.TargetType == lb.TargetTypeIP {
			id = ci.Address
			if id == "" {
				id = elb.DefaultInstanceAddress
			}
		}
		out = append(out, flotilla.TaskTarget{TargetGroupARN: g.ARN, ID: id, Port: port})
	}
	return out, nil
}

// hostPort returns the host port a task's container publishes for a TCP
// container port, 0 when it publishes none.
func hostPort(t *flotilla.Task, container string, port int) int {
	for _, c := range t.Containers {
		if c.Name != container {
			continue
		}
		for _, b := range c.NetworkBindings {
			// The load balancer reaches tasks over IPv4: an IPv6-only
			// binding (the engine may pick another port for ::) is not it.
			if b.ContainerPort == port && (b.Protocol == "" || b.Protocol == "tcp") && !strings.Contains(b.BindIP, ":") {
				return b.HostPort
			}
		}
	}
	return 0
}

// health merges the health of a running task's targets.
func (ts *targetSync) health(ctx context.Context, t *flotilla.Task) (TargetHealth, error) {
	h := TargetHealth{State: lb.StateHealthy}
	if len(t.Targets) == 0 {
		return TargetHealth{State: lb.StateInitial}, nil
	}
	for _, tt := range t.Targets {
		g, err := ts.group(ctx, tt.TargetGroupARN)
		if err != nil {
			return h, err
		}
		state := lb.StateInitial
		switch {
		case g == nil:
		case !g.HealthCheckEnabled:
			state = lb.StateHealthy
		default:
			merged, ok := ts.merged[g.ARN]
			if !ok {
				merged = lbnode.Merge(ts.reports, ts.now, g.ARN)
				ts.merged[g.ARN] = merged
			}
			for _, th := range merged {
				if th.Target.ID == tt.ID && th.Target.Port == tt.Port {
					state = th.State
				}
			}
		}
		switch state {
		case lb.StateHealthy:
		case lb.StateUnhealthy:
			return TargetHealth{State: lb.StateUnhealthy, Group: tt.TargetGroupARN}, nil
		default:
			h.State = lb.StateInitial
		}
	}
	return h, nil
}

// drained reports whether a deregistered target has drained on every live
// data plane node: each has applied the group's change and lists it no
// more.
func (ts *targetSync) drained(g *elb.TargetGroupState, tt flotilla.TaskTarget) bool {
	for _, r := range ts.reports {
		if r.AppliedRevision < g.Revision {
			return false
		}
		for _, th := range r.Groups[g.ARN] {
			if th.Target.ID == tt.ID && th.Target.Port == tt.Port {
				return false
			}
		}
	}
	return true
}
