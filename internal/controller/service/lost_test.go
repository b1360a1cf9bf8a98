package service

import (
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
)

// away returns an instance whose agent disconnected ago before t0.
func away(id, az string, ago time.Duration) flotilla.ContainerInstance {
	ci := instance(id, az)
	ci.AgentConnected, ci.DisconnectedAt = false, t0.Add(-ago)
	return ci
}

func steadyService(desired int) flotilla.Service {
	return newService(desired, 100, 200, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 30))
}

// wantLost checks that every stop of the plan is a lost one, for the
// agent being unreachable.
func wantLost(t *testing.T, p Plan) {
	t.Helper()
	for _, s := range p.Stop {
		if !s.Lost || s.Reason != ReasonAgentLost {
			t.Errorf("stop = %+v, want lost with %q", s, ReasonAgentLost)
		}
	}
}

// TestReconcileUnreachable covers tasks whose instance's agent is away
// beyond the grace period: they are replaced where there is capacity and
// kept (registered and serving) until healthy replacements stand in for
// them, and a returning agent's extra tasks are stopped within the bounds.
func TestReconcileUnreachable(t *testing.T) {
	bothAway := []flotilla.ContainerInstance{away("a1", "a", 40*time.Second), away("b1", "b", 40*time.Second)}
	runCases(t, []reconcileCase{
		{
			name: "every agent away, no capacity: nothing stops, replacements are asked for",
			in: Input{Service: steadyService(2), Instances: bothAway,
				Tasks: []flotilla.Task{newTask("a", "1", "a1", flotilla.TaskRunning), newTask("b", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 2})
			},
		},
		{
			name: "replacements pending: the unreachable tasks stay",
			in: Input{Service: steadyService(2), Instances: append(bothAway, instance("c1", "c")),
				Tasks: []flotilla.Task{
					newTask("a", "1", "a1", flotilla.TaskRunning), newTask("b", "1", "b1", flotilla.TaskRunning),
					newTask("c-0", "1", "c1", flotilla.TaskPending), newTask("c-1", "1", "c1", flotilla.TaskPending)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p)
			},
		},
		{
			name: "one replacement healthy: one unreachable task goes, the other stays",
			in: Input{Service: steadyService(2), Instances: append(bothAway, instance("c1", "c")),
				Tasks: []flotilla.Task{
					newTask("a", "1", "a1", flotilla.TaskRunning), newTask("b", "1", "b1", flotilla.TaskRunning),
					newTask("c-0", "1", "c1", flotilla.TaskRunning), newTask("c-1", "1", "c1", flotilla.TaskPending)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "a")
				wantLost(t, p)
				wantStarts(t, p)
			},
		},
		{
			name: "replacements healthy: the unreachable tasks go as lost",
			in: Input{Service: steadyService(2), Instances: append(bothAway, instance("c1", "c")),
				Tasks: []flotilla.Task{
					newTask("a", "1", "a1", flotilla.TaskRunning), newTask("b", "1", "b1", flotilla.TaskRunning),
					newTask("c-0", "1", "c1", flotilla.TaskRunning), newTask("c-1", "1", "c1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "a", "b")
				wantLost(t, p)
				wantStarts(t, p)
			},
		},
		{
			name: "a replacement failing its health checks does not stand in",
			in: Input{Service: steadyService(1), Instances: []flotilla.ContainerInstance{away("a1", "a", time.Minute), instance("c1", "c")},
				Tasks: []flotilla.Task{
					newTask("a", "1", "a1", flotilla.TaskRunning, health(flotilla.HealthHealthy)),
					newTask("c", "1", "c1", flotilla.TaskRunning, health(flotilla.HealthUnknown))}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p)
			},
		},
		{
			name: "unreachable tasks do not count against maximumPercent",
			in: Input{Service: newService(2, 0, 100, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 30)),
				Instances: append(bothAway, instance("c1", "c")),
				Tasks:     []flotilla.Task{newTask("a", "1", "a1", flotilla.TaskRunning), newTask("b", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 2})
			},
		},
		{
			name: "a returning agent's extra tasks: pending replacements go first, healthy ones as the floor allows",
			in: Input{Service: steadyService(2), Instances: []flotilla.ContainerInstance{instance("a1", "a"), instance("c1", "c")},
				Tasks: []flotilla.Task{
					newTask("a-0", "1", "a1", flotilla.TaskRunning), newTask("a-1", "1", "a1", flotilla.TaskRunning),
					newTask("c-0", "1", "c1", flotilla.TaskPending), newTask("c-1", "1", "c1", flotilla.TaskPending)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "c-0", "c-1")
				for _, s := range p.Stop {
					if s.Lost {
						t.Errorf("stop = %+v, not lost", s)
					}
				}
				wantStarts(t, p)
			},
		},
		{
			name: "a returning agent's extra healthy tasks go only while the service stays whole",
			in: Input{Service: steadyService(2), Instances: []flotilla.ContainerInstance{instance("a1", "a"), instance("c1", "c")},
				Tasks: []flotilla.Task{
					newTask("a-0", "1", "a1", flotilla.TaskRunning), newTask("a-1", "1", "a1", flotilla.TaskRunning),
					newTask("c-0", "1", "c1", flotilla.TaskRunning), newTask("c-1", "1", "c1", flotilla.TaskPending)}},
			check: func(t *testing.T, p Plan) {
				// Three healthy, two wanted: the pending one and one of a1's
				// (spread: a1 holds the most).
				if len(p.Stop) != 2 || stopOf(p, "c-1").TaskID == "" || stopOf(p, "c-0").TaskID != "" {
					t.Errorf("stops = %v, want c-1 and one of a1's", stopIDs(p))
				}
				wantStarts(t, p)
			},
		},
		{
			name: "tasks on an unreachable instance already asked to stop are marked lost at once",
			in: Input{Service: steadyService(1), Instances: bothAway,
				Tasks: []flotilla.Task{newTask("a", "1", "a1", flotilla.TaskRunning), newTask("b", "1", "b1", flotilla.TaskRunning, desiredStopped)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "b")
				wantLost(t, p)
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1})
			},
		},
		{
			name: "a service being deleted lets its unreachable tasks go as lost",
			in: Input{Service: func() flotilla.Service {
				s := steadyService(0)
				s.Status = flotilla.ServiceDraining
				return s
			}(), Instances: bothAway, Tasks: []flotilla.Task{newTask("a", "1", "a1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "a")
				wantLost(t, p)
			},
		},
		{
			name: "a DAEMON service keeps its unreachable task and starts none there",
			in: Input{Service: func() flotilla.Service {
				s := newService(0, 0, 100, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 30))
				s.SchedulingStrategy = flotilla.SchedulingDaemon
				return s
			}(), Instances: []flotilla.ContainerInstance{away("a1", "a", time.Minute), instance("b1", "b")},
				Tasks: []flotilla.Task{newTask("a", "1", "a1", flotilla.TaskRunning), newTask("b", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p)
			},
		},
	})
}

// TestReconcileHeardSince covers a server that could not hear from agents
// for a while (it was down, or cut off from the store): an agent's absence
// counts from the later of its DisconnectedAt and Input.HeardSince.
func TestReconcileHeardSince(t *testing.T) {
	tasks := []flotilla.Task{newTask("a", "1", "a1", flotilla.TaskRunning), newTask("b", "1", "b1", flotilla.TaskRunning)}
	runCases(t, []reconcileCase{
		{
			name: "a server back for less than the grace period keeps and does not replace the tasks",
			in: Input{Service: steadyService(2), HeardSince: t0.Add(-10 * time.Second), InstanceGracePeriod: 30 * time.Second,
				Instances: []flotilla.ContainerInstance{away("a1", "a", time.Hour), instance("b1", "b")}, Tasks: tasks},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p)
				if want := t0.Add(20 * time.Second); !p.Next.Equal(want) {
					t.Errorf("Next = %v, want %v", p.Next, want)
				}
			},
		},
		{
			name: "past the grace period after the server's start, the agent is unreachable",
			in: Input{Service: steadyService(2), HeardSince: t0.Add(-31 * time.Second), InstanceGracePeriod: 30 * time.Second,
				Instances: []flotilla.ContainerInstance{away("a1", "a", time.Hour), instance("b1", "b")}, Tasks: tasks},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1})
			},
		},
		{
			name: "an agent that left after the server's start counts from its DisconnectedAt",
			in: Input{Service: steadyService(2), HeardSince: t0.Add(-time.Hour), InstanceGracePeriod: 30 * time.Second,
				Instances: []flotilla.ContainerInstance{away("a1", "a", 5*time.Second), instance("b1", "b")}, Tasks: tasks},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p)
				if want := t0.Add(25 * time.Second); !p.Next.Equal(want) {
					t.Errorf("Next = %v, want %v", p.Next, want)
				}
			},
		},
		{
			name: "a DAEMON target stays one while the server is back for less than the grace period",
			in: Input{Service: func() flotilla.Service {
				s := newService(0, 0, 100, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 30))
				s.SchedulingStrategy = flotilla.SchedulingDaemon
				return s
			}(), HeardSince: t0.Add(-time.Second), InstanceGracePeriod: 30 * time.Second,
				Instances: []flotilla.ContainerInstance{away("a1", "a", time.Hour), instance("b1", "b")}, Tasks: tasks},
			check: func(t *testing.T, p Plan) {
				if p.Service.DesiredCount != 2 {
					t.Errorf("DesiredCount = %d, want 2", p.Service.DesiredCount)
				}
				wantStops(t, p)
				wantStarts(t, p)
			},
		},
	})
}

// TestSimulateAgentsAwayAndBack loses sight of every agent of a cluster
// for many grace periods. With nowhere to place replacements, the service
// keeps its tasks; when the agents come back, they are the service's tasks
// again and nothing is replaced. When one agent comes back first, its
// capacity takes the replacements, and the unreachable tasks go only once
// the replacements are healthy.
func TestSimulateAgentsAwayAndBack(t *testing.T) {
	setup := func(t *testing.T) (*world, []string) {
		w := newWorld(t, steadyService(3), cluster)
		w.floor = false // losing sight of every agent takes the healthy tasks away
		w.checked = true
		var orig []string
		for _, inst := range abc {
			orig = append(orig, w.add("1", td1, inst, flotilla.TaskRunning).ID)
		}
		w.reconcile()
		for _, id := range abc {
			ci := w.instance(id)
			ci.AgentConnected, ci.DisconnectedAt = false, w.in.Now
		}
		// Ten minutes away: twenty grace periods.
		for range 40 {
			w.advance(15 * time.Second)
			w.reconcile()
			for _, id := range orig {
				if tk := w.task(id); tk.DesiredStatus != flotilla.TaskRunning {
					t.Fatalf("task %s stopped while its agent was away (%s); log:\n%s", id, tk.StoppedReason, strings.Join(w.log, "\n"))
				}
			}
		}
		if len(w.in.Tasks) != 3 {
			t.Fatalf("%d tasks, want the 3 first ones: nowhere to place others", len(w.in.Tasks))
		}
		return w, orig
	}
	reconnect := func(w *world, ids ...string) {
		for _, id := range ids {
			ci := w.instance(id)
			ci.AgentConnected, ci.DisconnectedAt = true, time.Time{}
		}
	}

	t.Run("all back", func(t *testing.T) {
		w, orig := setup(t)
		reconnect(w, abc...)
		w.run(10, func() bool { return w.converged(td1) })
		for _, id := range orig {
			if tk := w.task(id); tk.DesiredStatus != flotilla.TaskRunning || tk.LastStatus != flotilla.TaskRunning {
				t.Errorf("task %s %s/%s after the agents came back", id, tk.LastStatus, tk.DesiredStatus)
			}
		}
		if len(w.in.Tasks) != 3 {
			t.Errorf("%d tasks after the agents came back, want the same 3", len(w.in.Tasks))
		}
	})
	t.Run("one back first", func(t *testing.T) {
		w, orig := setup(t)
		reconnect(w, "a1")
		w.run(20, func() bool { return w.converged(td1) })
		running := 0
		for _, tk := range w.in.Tasks {
			if tk.LastStatus == flotilla.TaskRunning && tk.DesiredStatus == flotilla.TaskRunning {
				running++
			}
		}
		if running != 3 || w.task(orig[0]).DesiredStatus != flotilla.TaskRunning {
			t.Fatalf("%d running tasks, a1's original %s; log:\n%s", running, w.task(orig[0]).DesiredStatus, strings.Join(w.log, "\n"))
		}
		for _, id := range orig[1:] {
			if tk := w.task(id); tk.LastStatus != flotilla.TaskStopped || tk.StoppedReason != ReasonAgentLost {
				t.Errorf("unreachable task %s: %s (%q), want stopped as lost once replaced", id, tk.LastStatus, tk.StoppedReason)
			}
		}
	})
}
