package service

import (
	"fmt"
	"testing"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
)

// benchInput returns a service of n tasks over n/10 instances in three
// zones, desired to run desired tasks.
func benchInput(n, desired int, strategies []scheduler.Strategy) Input {
	s := newService(desired, 100, 200, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 60))
	in := Input{Service: s, Now: t0, Strategies: strategies}
	var ids []string
	for i := range max(n/10, 1) {
		ci := instance(fmt.Sprintf("i%05d", i), []string{"a", "b", "c"}[i%3])
		in.Instances = append(in.Instances, ci)
		ids = append(ids, ci.ID)
	}
	in.Tasks = tasksOf(n, "x", "1", ids)
	return in
}

func BenchmarkReconcile(b *testing.B) {
	for _, c := range []struct {
		name     string
		n, d     int
		strategy []scheduler.Strategy
	}{
		{"steady-1000", 1000, 1000, nil},
		{"steady-10000", 10000, 10000, nil},
		{"scale-in-2000-to-1000-spread", 2000, 1000, nil},
		{"scale-in-2000-to-1000-binpack", 2000, 1000, []scheduler.Strategy{{Type: "binpack", Field: "memory"}}},
		{"scale-in-10000-to-5000-spread", 10000, 5000, nil},
	} {
		in := benchInput(c.n, c.d, c.strategy)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				Reconcile(in)
			}
			b.ReportMetric(float64(c.n)*float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
		})
	}
}
