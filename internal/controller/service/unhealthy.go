package service

import (
	"time"

	"github.com/flotilla/flotilla/internal/lb"
)

// Tasks failing their health checks are replaced within the service's
// bounds rather than stopped at once (doc.go, "Health checks"): a failing
// task no longer counts towards the desired count, so its replacement
// starts as maximumPercent allows, and it is stopped once the replacement
// is healthy, or, when nothing can start, one at a time without taking the
// tasks that serve below minimumHealthyPercent.

// findFailOpen reports whether the service's load balancers fail open: it
// has load balancers, none of its running tasks has healthy targets and
// one has unhealthy ones. A load balancer whose targets are all unhealthy
// routes to all of them, so they serve.
func (r *run) findFailOpen() bool {
	if !r.in.LoadBalanced {
		return false
	}
	unhealthy := false
	for _, t := range r.tasks {
		if !t.running() || t.loc.lost() {
			continue
		}
		switch t.lb.State {
		case lb.StateHealthy:
			return false
		case lb.StateUnhealthy:
			unhealthy = true
		}
	}
	return unhealthy
}

// serving reports whether the task serves, which is what
// minimumHealthyPercent holds: it is healthy, or the load balancers fail
// open and route to its unhealthy targets.
func (r *run) serving(t *task) bool {
	return t.healthy() || r.failOpen && t.running() && !t.loc.lost() && t.lb.State == lb.StateUnhealthy
}

// markFailing marks the tasks that failed their container or load
// balancer health checks and whose grace period is over, and asks to be
// woken when the grace period of the others ends.
func (r *run) markFailing() {
	grace := time.Duration(max(r.svc.HealthCheckGracePeriodSeconds, 0)) * time.Second
	for _, t := range r.tasks {
		if t.stopped || !t.unhealthy() {
			continue
		}
		if end := t.StartedAt.Add(grace); r.now.Before(end) {
			r.wake(end)
			continue
		}
		t.failing = true
	}
}

// replaceFailing stops the failing tasks that the plan so far lets go, for
// d desired tasks and a floor of minHealthy serving ones, canReplace
// saying whether a replacement can start now (beside them):
//
//   - while healthy and failing tasks are more than d, failing ones beyond
//     d (their replacements are healthy), as the floor allows;
//   - otherwise, when no replacement can start and none is starting
//     (every task the plan does not stop is healthy or failing), one,
//     unless it serves and the serving tasks would fall below minHealthy;
//     the plan then starts its replacement if maximumPercent allows.
func (r *run) replaceFailing(ch *chooser, d, minHealthy int, canReplace bool) {
	var failing []*task
	healthy, serving, settling := 0, 0, false
	for _, t := range r.liveTasks() {
		switch {
		case t.failing:
			failing = append(failing, t)
		case !t.healthy():
			settling = true
		}
		if t.healthy() {
			healthy++
		}
		if r.serving(t) {
			serving++
		}
	}
	if len(failing) == 0 {
		return
	}
	surplus := healthy + len(failing) - d
	allowed := serving - minHealthy
	r.pickStops(ch, failing, surplus, &allowed, r.failingReason)
	if surplus <= 0 && !settling && !canReplace {
		r.pickStops(ch, failing, 1, &allowed, r.failingReason)
	}
	for _, t := range failing {
		if !t.stopped {
			continue
		}
		if t.lb.State == lb.StateUnhealthy {
			r.event("(service %s) (task %s) failed ELB health checks in (target-group %s).", r.svc.Name, t.ID, t.lb.Group)
		} else {
			r.event("(service %s) (task %s) failed container health checks.", r.svc.Name, t.ID)
		}
	}
}

// failingReason is the stoppedReason of a failing task.
func (r *run) failingReason(t *task) string {
	if t.lb.State == lb.StateUnhealthy {
		return "Task failed ELB health checks in (target-group " + t.lb.Group + ")"
	}
	return ReasonUnhealthy
}
