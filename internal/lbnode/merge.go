package lbnode

import (
	"cmp"
	"slices"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
)

// Merge returns the health of a target group's targets over the reports
// that are live at now, one entry per target (by ID and port, sorted): a
// target is unhealthy when a node finds it so, draining while a node
// drains it, healthy when every node that knows it finds it healthy, and
// otherwise as the nodes say (initial, unused, unavailable), initial when
// they disagree. Each entry keeps the reason and description of the node
// that decided it.
func Merge(reports []Report, now time.Time, targetGroupARN string) []lb.TargetHealth {
	type key struct {
		id   string
		port int
	}
	merged := map[key]lb.TargetHealth{}
	var order []key
	for _, r := range reports {
		if !r.Live(now) {
			continue
		}
		for _, th := range r.Groups[targetGroupARN] {
			k := key{th.Target.ID, th.Target.Port}
			cur, seen := merged[k]
			if !seen {
				merged[k] = th
				order = append(order, k)
				continue
			}
			if rank(th.State) > rank(cur.State) {
				merged[k] = th
			} else if rank(th.State) == rank(cur.State) && th.State != cur.State {
				cur.State, cur.Reason, cur.Description = lb.StateInitial, lb.ReasonInitialHealthChecking, ""
				merged[k] = cur
			}
		}
	}
	slices.SortFunc(order, func(a, b key) int { return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.port, b.port)) })
	out := make([]lb.TargetHealth, 0, len(order))
	for _, k := range order {
		out = append(out, merged[k])
	}
	return out
}

// rank orders states by how much one node's view of a target outweighs
// another's: unhealthy over draining over the undecided states over healthy.
func rank(state string) int {
	switch state {
	case lb.StateUnhealthy:
		return 3
	case lb.StateDraining:
		return 2
	case lb.StateHealthy:
		return 0
	}
	return 1 // initial, unused, unavailable
}
