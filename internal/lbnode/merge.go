package lbnode

import (
	"cmp"
	"slices"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
)

// Merge returns the health of a target group's targets over the reports
// that are live at now, one entry per target (by ID and port, sorted). A
// target's health is a quorum of the nodes that can see it, so that one
// node's view (a forged report, or a node that cannot reach the targets)
// never outweighs the others':
//
//   - A node is suspect in the group when it finds no target healthy and
//     some target unhealthy that another node finds healthy: it is more
//     likely the node than every target that fails. A suspect node's
//     views do not count.
//   - A node's draining view does not count either: whether a target is
//     draining is the control plane's to say (it is while the target is
//     deregistered and some node still lists it), and a node that drains
//     a registered target has not applied its registration yet.
//   - Of the nodes that count and know the target, it is healthy when
//     every one finds it healthy, and unhealthy when more of them find it
//     unhealthy than healthy (a tie is not a quorum).
//   - Otherwise it is as those nodes say when they agree (initial, unused,
//     unavailable), and initial when they disagree or when only suspect
//     or draining nodes know it.
//
// Each entry keeps the reason and description of the first node (in
// report order) whose view decided it.
func Merge(reports []Report, now time.Time, targetGroupARN string) []lb.TargetHealth {
	type key struct {
		id   string
		port int
	}
	var live []Report
	healthyOn := map[key]int{} // the nodes finding each target healthy
	for _, r := range reports {
		if !r.Live(now) {
			continue
		}
		if _, ok := r.Groups[targetGroupARN]; !ok {
			continue
		}
		live = append(live, r)
		for _, th := range r.Groups[targetGroupARN] {
			if th.State == lb.StateHealthy {
				healthyOn[key{th.Target.ID, th.Target.Port}]++
			}
		}
	}
	// suspect reports whether a node's report is suspect in the group.
	suspect := func(ths []lb.TargetHealth) bool {
		contradicted := false
		for _, th := range ths {
			switch th.State {
			case lb.StateHealthy:
				return false
			case lb.StateUnhealthy:
				// It finds the target unhealthy, so every node finding it
				// healthy is another node.
				contradicted = contradicted || healthyOn[key{th.Target.ID, th.Target.Port}] > 0
			}
		}
		return contradicted
	}
	type tally struct {
		views              []lb.TargetHealth // of the nodes that count, in report order
		healthy, unhealthy int
	}
	tallies := map[key]*tally{}
	var order []key
	for _, r := range live {
		ths := r.Groups[targetGroupARN]
		counts := !suspect(ths)
		for _, th := range ths {
			k := key{th.Target.ID, th.Target.Port}
			tl := tallies[k]
			if tl == nil {
				tl = &tally{}
				tallies[k] = tl
				order = append(order, k)
			}
			if !counts || th.State == lb.StateDraining {
				continue
			}
			tl.views = append(tl.views, th)
			switch th.State {
			case lb.StateHealthy:
				tl.healthy++
			case lb.StateUnhealthy:
				tl.unhealthy++
			}
		}
	}
	slices.SortFunc(order, func(a, b key) int { return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.port, b.port)) })
	out := make([]lb.TargetHealth, 0, len(order))
	for _, k := range order {
		tl := tallies[k]
		out = append(out, decide(lb.Target{ID: k.id, Port: k.port}, tl.views, tl.healthy, tl.unhealthy))
	}
	return out
}

// decide returns a target's merged health from the views that count (in
// report order, with how many are healthy and unhealthy).
func decide(target lb.Target, views []lb.TargetHealth, healthy, unhealthy int) lb.TargetHealth {
	undecided := lb.TargetHealth{Target: target, State: lb.StateInitial, Reason: lb.ReasonInitialHealthChecking}
	switch {
	case len(views) == 0:
		return undecided
	case healthy == len(views):
		return views[0]
	case unhealthy > healthy:
		for _, v := range views {
			if v.State == lb.StateUnhealthy {
				return v
			}
		}
	}
	for _, v := range views[1:] {
		if v.State != views[0].State {
			return undecided
		}
	}
	return views[0]
}
