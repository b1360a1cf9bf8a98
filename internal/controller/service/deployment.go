package service

import (
	"slices"
	"strings"
	"time"

	"github.com/flotilla/flotilla"
)

// Throttle delays: a deployment whose tasks failed n times in a row
// (n ≥ 2) waits ThrottleDelay(n) after the last failure before it starts
// more, 10 s doubling with each failure up to ECS's documented 27 minutes.
const (
	ThrottleBase = 10 * time.Second
	ThrottleMax  = 27 * time.Minute
)

// ThrottleDelay returns how long a deployment whose tasks failed n times in
// a row waits after the last failure before it starts tasks again: nothing
// after one failure, then 10 s, 20 s, 40 s, ... up to 27 minutes.
func ThrottleDelay(n int) time.Duration {
	if n < 2 {
		return 0
	}
	return min(ThrottleBase<<min(n-2, 16), ThrottleMax)
}

// Rollout state reasons, in ECS's words.
const (
	reasonCircuitBreaker = "ECS deployment circuit breaker: tasks failed to start."
	reasonRollingBack    = "ECS deployment circuit breaker: rolling back to deploymentId "
)

func inProgress(d *flotilla.Deployment) bool {
	return d.RolloutState == flotilla.RolloutInProgress || d.RolloutState == ""
}

// consecutiveFailures counts the failed tasks of a deployment since the
// newest task that succeeded (in creation order), as ECS's failedTasks
// does, and returns when the newest of them failed.
//
// counts says which failures count: the circuit breaker's (which include
// containers that crashed after starting) or the throttle's (tasks that
// never ran, or failed their health checks).
func (r *run) consecutiveFailures(depID string, counts func(*task) bool) (n int, last time.Time) {
	var ts []*task
	for _, t := range r.tasks {
		if t.dep == depID {
			ts = append(ts, t)
		}
	}
	slices.SortStableFunc(ts, func(a, b *task) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	for _, t := range ts {
		switch {
		case counts(t):
			n++
			if at := t.failedAt(); at.After(last) {
				last = at
			}
		case t.succeeded(r.now):
			return n, last
		}
	}
	return n, last
}

// checkFailures counts the PRIMARY deployment's failed tasks, trips the
// circuit breaker (and rolls back) at the threshold, and otherwise
// throttles launches while they keep failing.
func (r *run) checkFailures() {
	p := r.primaryDeployment()
	if p == nil {
		return
	}
	n, _ := r.consecutiveFailures(p.ID, (*task).failed)
	prev := p.FailedTasks
	p.FailedTasks = n
	if cb := r.svc.DeploymentConfiguration.CircuitBreaker; inProgress(p) && cb.Trips(n, r.d) {
		r.failDeployment(cb.Rollback)
		return
	}
	if p.RolloutState == flotilla.RolloutFailed {
		return
	}
	// The throttle, as ECS's, is for tasks that keep failing to launch.
	tn, last := r.consecutiveFailures(p.ID, (*task).failedToLaunch)
	if delay := ThrottleDelay(tn); delay > 0 {
		if until := last.Add(delay); r.now.Before(until) {
			r.throttled = true
			r.wake(until)
		}
		if n > prev {
			r.event("(service %s) is unable to consistently start tasks successfully.", r.svc.Name)
		}
	}
}

// failDeployment marks the PRIMARY deployment FAILED and, with rollback,
// makes a new PRIMARY deployment of the last COMPLETED deployment's task
// definition. A deployment that is itself a rollback is not rolled back.
func (r *run) failDeployment(rollback bool) {
	p := r.primaryDeployment()
	wasRollback := strings.HasPrefix(p.RolloutStateReason, reasonRollingBack)
	p.RolloutState = flotilla.RolloutFailed
	p.RolloutStateReason = reasonCircuitBreaker
	r.event("(service %s) (deployment %s) deployment failed: tasks failed to start.", r.svc.Name, flotilla.DeploymentStartedBy(p.ID))
	if !rollback || wasRollback {
		return
	}
	target := -1
	for i, d := range r.svc.Deployments {
		if i != r.primary && d.RolloutState == flotilla.RolloutCompleted && d.TaskDefinitionARN != "" &&
			(target < 0 || d.CreatedAt.After(r.svc.Deployments[target].CreatedAt)) {
			target = i
		}
	}
	if target < 0 {
		return
	}
	to := r.svc.Deployments[target]
	nd := flotilla.NewDeployment(newDeploymentID(&r.svc, p.ID, r.now), to.TaskDefinitionARN, r.d, r.now)
	nd.RolloutStateReason = reasonRollingBack + flotilla.DeploymentStartedBy(to.ID) + "."
	r.svc.StartDeployment(nd)
	r.primary = 0
	r.event("(service %s) rolling back to deployment %s.", r.svc.Name, flotilla.DeploymentStartedBy(to.ID))
}

// finish brings the service's deployments up to date with the plan:
// counts, completion, steady state, events.
func (r *run) finish() {
	if r.svc.Status == flotilla.ServiceInactive {
		return
	}
	draining := r.svc.Status == flotilla.ServiceDraining
	d := r.d
	if draining {
		d = 0
	} else if r.svc.SchedulingStrategy == flotilla.SchedulingDaemon {
		r.svc.DesiredCount = r.d
	}
	for i := range r.svc.Deployments {
		dep := &r.svc.Deployments[i]
		dep.RunningCount, dep.PendingCount = 0, 0
		for _, t := range r.tasks {
			if t.dep != dep.ID || t.stopped {
				continue
			}
			if t.running() {
				dep.RunningCount++
			} else if t.pending() {
				dep.PendingCount++
			}
		}
		if i == r.primary {
			dep.DesiredCount = d
		} else {
			dep.DesiredCount = dep.RunningCount + dep.PendingCount
		}
	}
	if !draining {
		r.complete()
		r.steady()
	}
	r.stamp()
	r.addEvents()
}

// complete marks the PRIMARY deployment COMPLETED and drops the others
// once it has its desired count of healthy tasks and no other deployment
// has a task left that is not STOPPED.
func (r *run) complete() {
	p := r.primaryDeployment()
	if p == nil || !inProgress(p) || len(r.starts) > 0 {
		return
	}
	healthy := 0
	for _, t := range r.tasks {
		switch {
		case t.dep != p.ID:
			if t.LastStatus != flotilla.TaskStopped && !t.lost {
				return
			}
		case !t.stopped && t.healthy() && t.loc != onDraining:
			if !t.stable(r.now) {
				r.wake(t.StartedAt.Add(StableAfter))
				continue
			}
			healthy++
		}
	}
	if healthy < r.d {
		return
	}
	p.RolloutState = flotilla.RolloutCompleted
	p.RolloutStateReason = "ECS deployment " + flotilla.DeploymentStartedBy(p.ID) + " completed."
	r.event("(service %s) (deployment %s) deployment completed.", r.svc.Name, flotilla.DeploymentStartedBy(p.ID))
	r.svc.Deployments = []flotilla.Deployment{*p}
	r.primary = 0
}

// steady emits ECS's steady state event when the service has just reached
// it: one deployment, done rolling out, with its desired count of tasks
// all running and healthy, nothing else left, nothing to start or stop.
// The event log is the memory: the event is not repeated while it is the
// newest one.
func (r *run) steady() {
	p := r.primaryDeployment()
	if p == nil || len(r.svc.Deployments) != 1 || inProgress(p) || p.RolloutState == flotilla.RolloutFailed ||
		len(r.starts) > 0 || len(r.stops) > 0 {
		return
	}
	present, running, healthy := 0, 0, 0
	for _, t := range r.tasks {
		if t.LastStatus != flotilla.TaskStopped {
			present++
		}
		if t.dep == p.ID && t.running() {
			running++
			if t.healthy() {
				healthy++
			}
		}
	}
	if present != r.d || running != r.d || healthy != r.d {
		return
	}
	msg := "(service " + r.svc.Name + ") has reached a steady state."
	if r.newestEvent() == msg {
		return
	}
	r.events = append(r.events, msg)
}

// stamp sets UpdatedAt on the deployments this reconcile changed.
func (r *run) stamp() {
	orig := map[string]flotilla.Deployment{}
	for _, d := range r.in.Service.Deployments {
		orig[d.ID] = d
	}
	for i := range r.svc.Deployments {
		d := &r.svc.Deployments[i]
		o, ok := orig[d.ID]
		if !ok {
			continue
		}
		a := *d
		a.UpdatedAt, o.UpdatedAt = time.Time{}, time.Time{}
		if a != o {
			d.UpdatedAt = r.now
		}
	}
}
