package service

import (
	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
)

// replica plans a REPLICA service: the PRIMARY deployment gets the desired
// count of tasks, other deployments' tasks and tasks on draining instances
// go, the PRIMARY deployment's extra tasks go, and failing tasks are
// replaced (replaceFailing), all without taking the serving tasks below
// ceil(minimumHealthyPercent × D / 100) nor the running and pending tasks
// above floor(maximumPercent × D / 100).
func (r *run) replica() {
	d := r.d
	minHealthy, maxTotal := bounds(r.svc.DeploymentConfiguration, false, d)
	p := r.primaryDeployment()

	var old, drain, keep []*task
	serving := 0
	for _, t := range r.liveTasks() {
		if r.serving(t) {
			serving++
		}
		switch {
		case t.failing:
			// Replaced first, then stopped: replaceFailing.
		case t.loc == onDraining:
			drain = append(drain, t)
		case p == nil || t.dep != p.ID:
			old = append(old, t)
		default:
			keep = append(keep, t)
		}
	}
	allowed := max(serving-minHealthy, 0)
	strategies := r.in.Strategies
	if len(strategies) == 0 {
		strategies = scheduler.DefaultServiceStrategies
	}
	ch := r.newChooser(strategies)
	// Every task on a draining instance goes, whatever its deployment:
	// pending ones at once (they are not healthy, the floor does not hold
	// them), running ones as the floor allows, replaced by the PRIMARY
	// deployment's new tasks.
	r.pickStops(ch, drain, len(drain), &allowed, func(*task) string { return ReasonDraining })
	if p != nil && p.RolloutState != flotilla.RolloutFailed {
		// A deployment under way replaces every older task.
		r.pickStops(ch, old, len(old), &allowed, r.scalingReason)
	} else {
		// A failed deployment replaces nothing: older tasks only go when
		// there are more tasks than desired.
		r.pickStops(ch, old, len(r.liveTasks())-d, &allowed, r.scalingReason)
	}
	kept := 0
	for _, t := range keep {
		if !t.stopped {
			kept++
		}
	}
	r.pickStops(ch, keep, kept-d, &allowed, r.scalingReason)

	r.replaceFailing(ch, d, minHealthy, r.canStart() && len(r.liveTasks()) < maxTotal)
	if !r.canStart() {
		return
	}
	kept, live := 0, 0
	for _, t := range r.liveTasks() {
		live++
		if t.dep == p.ID && t.loc != onDraining && !t.failing {
			kept++
		}
	}
	if n := min(d-kept, maxTotal-live); n > 0 {
		r.starts = append(r.starts, Start{DeploymentID: p.ID, TaskDefinitionARN: p.TaskDefinitionARN, Count: n})
	}
}
