package service

import (
	"slices"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
)

// daemonTargets returns, by ID, the instances a DAEMON service runs on:
// ACTIVE, not lost (an instance whose agent disconnected stays one during
// its grace period, but gets no new task), satisfying every memberOf
// constraint. An expression that does not parse matches no instance.
func (r *run) daemonTargets() []*flotilla.ContainerInstance {
	var queries []*scheduler.Query
	for _, c := range r.in.Constraints {
		if c.Type != scheduler.ConstraintMemberOf {
			continue
		}
		q, err := scheduler.ParseQuery(c.Expression)
		if err != nil {
			return nil
		}
		queries = append(queries, q)
	}
	own := map[string]bool{}
	for _, t := range r.tasks {
		if t.DesiredStatus != flotilla.TaskStopped && t.InstanceID != "" {
			own[t.InstanceID] = true
		}
	}
	group := []string{flotilla.ServiceGroup(r.svc.Name)}
	var out []*flotilla.ContainerInstance
	for _, ci := range r.insts {
		if ci.Status != flotilla.InstanceActive {
			continue
		}
		_, loc := r.locate(ci.ID)
		if loc == onLost {
			continue
		}
		var groups []string
		switch {
		case r.in.InstanceGroups != nil:
			groups = r.in.InstanceGroups[ci.ID]
		case own[ci.ID]:
			groups = group
		}
		if !slices.ContainsFunc(queries, func(q *scheduler.Query) bool { return !q.Match(ci, groups) }) {
			out = append(out, ci)
			if loc == onDisconnected && !ci.DisconnectedAt.IsZero() {
				r.wake(r.graceEnd(ci))
			}
		}
	}
	slices.SortFunc(out, func(a, b *flotilla.ContainerInstance) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// daemon plans a DAEMON service: one task of the PRIMARY deployment on
// each target instance, none elsewhere. Tasks off the targets (draining,
// no longer matching the constraints) stop at once with no replacement;
// an older deployment's task stops as minimumHealthyPercent allows, and
// its instance gets the new task once it has STOPPED.
func (r *run) daemon() {
	minHealthy, maxTotal := bounds(r.svc.DeploymentConfiguration, true, r.d)
	p := r.primaryDeployment()
	target := map[string]*flotilla.ContainerInstance{}
	for _, ci := range r.targets {
		target[ci.ID] = ci
	}
	for _, t := range r.tasks {
		if t.stopped || t.DesiredStatus != flotilla.TaskRunning || t.LastStatus == flotilla.TaskStopped || target[t.InstanceID] != nil ||
			t.unreachable() {
			continue
		}
		reason := ReasonIneligible
		if t.loc == onDraining {
			reason = ReasonDraining
		}
		r.stop(t, reason, false)
	}

	byInst := map[string][]*task{}
	serving := 0
	for _, t := range r.liveTasks() {
		byInst[t.InstanceID] = append(byInst[t.InstanceID], t)
		if r.serving(t) {
			serving++
		}
	}
	allowed := max(serving-minHealthy, 0)
	active := p != nil && p.RolloutState != flotilla.RolloutFailed
	var old, extra []*task
	for _, ci := range r.targets {
		var prim, others []*task
		for _, t := range byInst[ci.ID] {
			if p != nil && t.dep == p.ID {
				prim = append(prim, t)
			} else {
				others = append(others, t)
			}
		}
		switch {
		case len(prim) > 0:
			extra = append(extra, without(prim, keeper(prim))...)
			old = append(old, others...)
		case active:
			old = append(old, others...)
		case len(others) > 0:
			// Nothing replaces an older task while the deployment is
			// failed: keep one.
			extra = append(extra, without(others, keeper(others))...)
		}
	}
	ch := r.newChooser(nil)
	r.pickStops(ch, extra, len(extra), &allowed, r.scalingReason)
	r.pickStops(ch, old, len(old), &allowed, r.scalingReason)

	// A task's replacement goes on its instance once it has stopped.
	r.replaceFailing(ch, r.d, minHealthy, false)
	if !r.canStart() {
		return
	}
	busy := map[string]bool{}
	for _, t := range r.tasks {
		if t.LastStatus != flotilla.TaskStopped {
			busy[t.InstanceID] = true
		}
	}
	live := len(r.liveTasks())
	for _, ci := range r.targets {
		if live >= maxTotal {
			break
		}
		if busy[ci.ID] || !ci.AgentConnected {
			continue
		}
		r.starts = append(r.starts, Start{DeploymentID: p.ID, TaskDefinitionARN: p.TaskDefinitionARN, Count: 1, InstanceID: ci.ID})
		live++
	}
}

// keeper returns the task to keep of several on one instance: a healthy
// one, then the oldest.
func keeper(ts []*task) *task {
	return slices.MinFunc(ts, func(a, b *task) int {
		if ah, bh := a.healthy(), b.healthy(); ah != bh {
			if ah {
				return -1
			}
			return 1
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func without(ts []*task, t *task) []*task {
	return slices.DeleteFunc(slices.Clone(ts), func(x *task) bool { return x == t })
}
