package lb

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestFailOpenSet checks which targets a group sends to by their states:
// the healthy ones; when none is, the unhealthy ones (fail open), not
// those still in their initial checks; and only when no target is healthy
// or unhealthy, every registered one. Draining targets get nothing.
func TestFailOpenSet(t *testing.T) {
	for _, tc := range []struct {
		states map[string]string // target key → state; "draining" drains it
		want   []string
	}{
		{states: map[string]string{"a": StateHealthy, "b": StateUnhealthy, "c": StateInitial}, want: []string{"a"}},
		{states: map[string]string{"a": StateUnhealthy, "b": StateUnhealthy, "c": StateInitial}, want: []string{"a", "b"}},
		{states: map[string]string{"a": StateUnhealthy, "b": StateDraining}, want: []string{"a"}},
		{states: map[string]string{"a": StateInitial, "b": StateInitial}, want: []string{"a", "b"}},
		{states: map[string]string{"a": StateDraining}, want: nil},
	} {
		t.Run(fmt.Sprint(tc.states), func(t *testing.T) {
			tg := newTargetGroup("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/1",
				&deps{log: slog.New(slog.DiscardHandler), metrics: newMetrics(prometheus.NewRegistry())})
			tg.mu.Lock()
			for key, state := range tc.states {
				tgt := &target{key: key, tg: tg, health: health{state: state}}
				if state == StateDraining {
					tgt.draining = true
				}
				tg.targets[key] = tgt
			}
			tg.rebuild()
			tg.mu.Unlock()
			var got []string
			for range 20 {
				if p := tg.pick(); p != nil && !slices.Contains(got, p.key) {
					got = append(got, p.key)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("picked %v, want %v", got, tc.want)
			}
		})
	}
}
