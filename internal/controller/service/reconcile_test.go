package service

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
)

func TestThrottleDelay(t *testing.T) {
	want := []time.Duration{0, 0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 640 * time.Second, 1280 * time.Second, 27 * time.Minute, 27 * time.Minute}
	for n, w := range want {
		if got := ThrottleDelay(n); got != w {
			t.Errorf("ThrottleDelay(%d) = %v, want %v", n, got, w)
		}
	}
	if got := ThrottleDelay(1000); got != ThrottleMax {
		t.Errorf("ThrottleDelay(1000) = %v, want %v", got, ThrottleMax)
	}
}

// reconcileCase is one table test: an input and what the plan must say.
type reconcileCase struct {
	name  string
	in    Input
	check func(t *testing.T, p Plan)
}

func runCases(t *testing.T, cases []reconcileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.in.Now.IsZero() {
				c.in.Now = t0
			}
			p := Reconcile(c.in)
			checkInvariants(t, c.in, p)
			c.check(t, p)
		})
	}
}

func wantStops(t *testing.T, p Plan, ids ...string) {
	t.Helper()
	got := stopIDs(p)
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Errorf("stops = %v, want %v", got, ids)
	}
}

func wantStarts(t *testing.T, p Plan, want ...Start) {
	t.Helper()
	if !reflect.DeepEqual(p.Start, want) && (len(p.Start) != 0 || len(want) != 0) {
		t.Errorf("starts = %+v, want %+v", p.Start, want)
	}
}

func wantEvents(t *testing.T, p Plan, want ...string) {
	t.Helper()
	got := messages(p.Service)
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Errorf("newest events = %q, want %q", got[:min(len(got), len(want)+1)], want)
	}
}

func stopOf(p Plan, id string) Stop {
	for _, s := range p.Stop {
		if s.TaskID == id {
			return s
		}
	}
	return Stop{}
}

var (
	abc     = []string{"a1", "b1", "c1"}
	cluster = []flotilla.ContainerInstance{instance("a1", "a"), instance("b1", "b"), instance("c1", "c")}
)

func rolling(desired, minPct, maxPct int) flotilla.Service {
	return newService(desired, minPct, maxPct,
		deployment("2", flotilla.DeploymentPrimary, td2, flotilla.RolloutInProgress, 1),
		deployment("1", flotilla.DeploymentActive, td1, flotilla.RolloutCompleted, 60))
}

func TestReconcileReplica(t *testing.T) {
	single := func(desired int) flotilla.Service {
		return newService(desired, 100, 200, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutInProgress, 5))
	}
	runCases(t, []reconcileCase{
		{
			name: "a new service starts its desired count",
			in:   Input{Service: single(3), Instances: cluster},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 3})
				wantStops(t, p)
				if d := p.Service.Deployments[0]; d.DesiredCount != 3 || d.RunningCount != 0 || d.PendingCount != 0 {
					t.Errorf("deployment = %+v", d)
				}
				if !p.Changed {
					t.Error("Changed = false")
				}
			},
		},
		{
			name: "pending tasks are not started again",
			in: Input{Service: single(3), Instances: cluster, Tasks: []flotilla.Task{
				newTask("p1", "1", "a1", flotilla.TaskProvisioning), newTask("p2", "1", "b1", flotilla.TaskPending),
				newTask("p3", "1", "c1", flotilla.TaskActivating)}},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p)
				if d := p.Service.Deployments[0]; d.PendingCount != 3 || d.RunningCount != 0 {
					t.Errorf("deployment = %+v", d)
				}
			},
		},
		{
			name: "a failed task is replaced",
			in: Input{Service: single(2), Instances: cluster, Tasks: []flotilla.Task{
				newTask("r1", "1", "a1", flotilla.TaskRunning),
				newTask("x1", "1", "b1", flotilla.TaskStopped)}},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1})
				wantStops(t, p)
			},
		},
		{
			name: "100/200 starts the new tasks before stopping any",
			in:   Input{Service: rolling(4, 100, 200), Instances: cluster, Tasks: tasksOf(4, "old", "1", abc)},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p, Start{DeploymentID: "2", TaskDefinitionARN: td2, Count: 4})
				wantStops(t, p)
				if d := deploymentByID(p.Service, "1"); d.DesiredCount != 4 || d.RunningCount != 4 {
					t.Errorf("old deployment = %+v", d)
				}
			},
		},
		{
			name: "100/200 stops the old tasks once the new ones are healthy",
			in: Input{Service: rolling(4, 100, 200), Instances: cluster,
				Tasks: append(tasksOf(4, "old", "1", abc), tasksOf(4, "new", "2", abc, taskDef(td2))...)},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p)
				wantStops(t, p, "old-0", "old-1", "old-2", "old-3")
				if s := stopOf(p, "old-0"); s.Reason != "Scaling activity initiated by (deployment ecs-svc/1)" ||
					s.StopCode != flotilla.StopServiceSchedulerInit || s.Lost {
					t.Errorf("stop = %+v", s)
				}
				if d := primaryOf(p.Service); d.RolloutState != flotilla.RolloutInProgress || len(p.Service.Deployments) != 2 {
					t.Errorf("deployments = %+v", p.Service.Deployments)
				}
				if len(p.Service.Events) != 0 {
					t.Errorf("events = %q; the controller reports stopped tasks", messages(p.Service))
				}
			},
		},
		{
			name: "the deployment completes once the old tasks have stopped",
			in: Input{Service: rolling(4, 100, 200), Instances: cluster,
				Tasks: append(tasksOf(4, "old", "1", abc, func(t *flotilla.Task) {
					desiredStopped(t)
					t.LastStatus = flotilla.TaskStopped
				}), tasksOf(4, "new", "2", abc, taskDef(td2))...)},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p)
				wantStops(t, p)
				if len(p.Service.Deployments) != 1 {
					t.Fatalf("deployments = %+v", p.Service.Deployments)
				}
				d := p.Service.Deployments[0]
				if d.ID != "2" || d.RolloutState != flotilla.RolloutCompleted || d.RolloutStateReason != "ECS deployment ecs-svc/2 completed." ||
					d.RunningCount != 4 || d.DesiredCount != 4 || !d.UpdatedAt.Equal(t0) {
					t.Errorf("deployment = %+v", d)
				}
				wantEvents(t, p, "(service web) has reached a steady state.", "(service web) (deployment ecs-svc/2) deployment completed.")
			},
		},
		{
			name: "50/150 stops half the old tasks and starts the new ones at once",
			in:   Input{Service: rolling(4, 50, 150), Instances: cluster, Tasks: tasksOf(4, "old", "1", abc)},
			check: func(t *testing.T, p Plan) {
				// floor = 2 healthy, ceiling = 6 tasks: 2 old stay, 4 new come.
				if len(p.Stop) != 2 {
					t.Errorf("stops = %v, want 2 of the old tasks", stopIDs(p))
				}
				wantStarts(t, p, Start{DeploymentID: "2", TaskDefinitionARN: td2, Count: 4})
			},
		},
		{
			name: "old tasks that are not healthy go first and do not count",
			in: Input{Service: rolling(4, 100, 200), Instances: cluster, Tasks: append(tasksOf(3, "old", "1", abc),
				newTask("old-checking", "1", "c1", flotilla.TaskRunning, health(flotilla.HealthUnknown)),
				newTask("new-0", "2", "a1", flotilla.TaskRunning, taskDef(td2)))},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "old-checking")
				wantStarts(t, p, Start{DeploymentID: "2", TaskDefinitionARN: td2, Count: 3})
			},
		},
		{
			name: "scale-in stops pending tasks first, then from the zone with the most",
			in: Input{Service: single(2), Instances: cluster, Tasks: []flotilla.Task{
				newTask("x0", "1", "a1", flotilla.TaskRunning), newTask("x1", "1", "a1", flotilla.TaskRunning),
				newTask("x2", "1", "b1", flotilla.TaskRunning), newTask("x3", "1", "c1", flotilla.TaskPending)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "x1", "x3")
				wantStarts(t, p)
			},
		},
		{
			name: "scale-in spreads over the zones before the instances",
			in: Input{Service: single(2), Instances: append(slices.Clone(cluster), instance("a2", "a")),
				Tasks: []flotilla.Task{
					newTask("x0", "1", "a1", flotilla.TaskRunning), newTask("x1", "1", "a2", flotilla.TaskRunning),
					newTask("x2", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				// Zone a holds two: one of them goes, though each instance holds one.
				wantStops(t, p, "x1")
			},
		},
		{
			name: "a non-essential container's health check does not count",
			in: Input{Service: single(1), Instances: cluster, Tasks: []flotilla.Task{
				newTask("x0", "1", "a1", flotilla.TaskRunning, func(t *flotilla.Task) {
					t.Containers = append(t.Containers, flotilla.TaskContainer{Name: "sidecar", LastStatus: flotilla.ContainerRunning,
						HealthStatus: flotilla.HealthUnhealthy})
				})}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p)
				wantEvents(t, p, "(service web) has reached a steady state.", "(service web) (deployment ecs-svc/1) deployment completed.")
			},
		},
		{
			name: "scale-in with spread on instanceId stops from the instance with the most",
			in: Input{Service: single(3), Instances: cluster,
				Strategies: []scheduler.Strategy{{Type: "spread", Field: "instanceId"}},
				Tasks: []flotilla.Task{
					newTask("x0", "1", "a1", flotilla.TaskRunning), newTask("x1", "1", "b1", flotilla.TaskRunning),
					newTask("x2", "1", "b1", flotilla.TaskRunning), newTask("x3", "1", "b1", flotilla.TaskRunning),
					newTask("x4", "1", "c1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "x2", "x3")
			},
		},
		{
			name: "scale-in evens the instances out one stop at a time",
			in: Input{Service: single(3), Instances: cluster,
				Strategies: []scheduler.Strategy{{Type: "spread", Field: "instanceId"}},
				Tasks: []flotilla.Task{
					newTask("a-0", "1", "a1", flotilla.TaskRunning), newTask("a-1", "1", "a1", flotilla.TaskRunning),
					newTask("b-0", "1", "b1", flotilla.TaskRunning), newTask("b-1", "1", "b1", flotilla.TaskRunning),
					newTask("b-2", "1", "b1", flotilla.TaskRunning), newTask("c-0", "1", "c1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "a-1", "b-1", "b-2")
			},
		},
		{
			name: "scale-in stops the newest task of an instance",
			in: Input{Service: single(1), Instances: cluster, Tasks: []flotilla.Task{
				newTask("z-old", "1", "a1", flotilla.TaskRunning, createdAt(t0.Add(-time.Hour))),
				newTask("a-new", "1", "a1", flotilla.TaskRunning, createdAt(t0.Add(-time.Minute)))}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "a-new")
			},
		},
		{
			name: "scale-in with binpack stops from the instance with the most left",
			in: Input{Service: single(1), Strategies: []scheduler.Strategy{{Type: "binpack", Field: "memory"}},
				Instances: func() []flotilla.ContainerInstance {
					a, b := instance("a1", "a"), instance("b1", "b")
					a.RemainingResources[1].IntegerValue = 1024
					b.RemainingResources[1].IntegerValue = 6144
					return []flotilla.ContainerInstance{a, b}
				}(),
				Tasks: []flotilla.Task{newTask("on-full", "1", "a1", flotilla.TaskRunning), newTask("on-empty", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "on-empty")
			},
		},
		{
			name: "an unhealthy task is kept during the grace period",
			in: Input{Service: func() flotilla.Service { s := single(1); s.HealthCheckGracePeriodSeconds = 60; return s }(),
				Instances: cluster, Tasks: []flotilla.Task{
					newTask("u", "1", "a1", flotilla.TaskRunning, health(flotilla.HealthUnhealthy), startedAt(t0.Add(-30*time.Second)))}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p)
				if !p.Next.Equal(t0.Add(30 * time.Second)) {
					t.Errorf("Next = %v, want the end of the grace period", p.Next)
				}
			},
		},
		{
			name: "an unhealthy task is replaced after the grace period",
			in: Input{Service: func() flotilla.Service { s := single(1); s.HealthCheckGracePeriodSeconds = 60; return s }(),
				Instances: cluster, Tasks: []flotilla.Task{
					newTask("u", "1", "a1", flotilla.TaskRunning, health(flotilla.HealthUnhealthy), startedAt(t0.Add(-2*time.Minute)))}},
			check: func(t *testing.T, p Plan) {
				// The replacement starts first; the unhealthy task stays.
				wantStops(t, p)
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1})
				svc := p.Service
				in := Input{Service: svc, Instances: cluster, Now: t0, Tasks: []flotilla.Task{
					newTask("u", "1", "a1", flotilla.TaskRunning, health(flotilla.HealthUnhealthy), startedAt(t0.Add(-2*time.Minute))),
					newTask("r", "1", "b1", flotilla.TaskRunning, health(flotilla.HealthUnknown), startedAt(t0.Add(-time.Second)))}}
				if p := Reconcile(in); len(p.Stop) != 0 || len(p.Start) != 0 {
					t.Errorf("replacement not yet healthy: stops %v, starts %+v; want none", stopIDs(p), p.Start)
				}
				in.Tasks[1].HealthStatus = flotilla.HealthHealthy
				p = Reconcile(in)
				wantStops(t, p, "u")
				if s := stopOf(p, "u"); s.Reason != ReasonUnhealthy {
					t.Errorf("stop = %+v", s)
				}
				wantStarts(t, p)
				wantEvents(t, p, "(service web) (task u) failed container health checks.")
			},
		},
		{
			name: "tasks on a draining instance: pending ones stop, running ones are replaced first",
			in: Input{Service: single(2), Instances: []flotilla.ContainerInstance{
				func() flotilla.ContainerInstance {
					a := instance("a1", "a")
					a.Status = flotilla.InstanceDraining
					return a
				}(),
				instance("b1", "b")},
				Tasks: []flotilla.Task{
					newTask("d-run", "1", "a1", flotilla.TaskRunning), newTask("d-pend", "1", "a1", flotilla.TaskPending),
					newTask("b-run", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "d-pend")
				if s := stopOf(p, "d-pend"); s.Reason != ReasonDraining {
					t.Errorf("stop = %+v", s)
				}
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1})
			},
		},
		{
			name: "a draining instance's task stops once its replacement is healthy",
			in: Input{Service: single(2), Instances: []flotilla.ContainerInstance{
				func() flotilla.ContainerInstance {
					a := instance("a1", "a")
					a.Status = flotilla.InstanceDraining
					return a
				}(),
				instance("b1", "b")},
				Tasks: []flotilla.Task{
					newTask("d-run", "1", "a1", flotilla.TaskRunning), newTask("b-run", "1", "b1", flotilla.TaskRunning),
					newTask("b-new", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "d-run")
				wantStarts(t, p)
			},
		},
		{
			name: "0/100 stops a draining instance's task before replacing it",
			in: Input{Service: newService(2, 0, 100, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 5)),
				Instances: []flotilla.ContainerInstance{
					func() flotilla.ContainerInstance {
						a := instance("a1", "a")
						a.Status = flotilla.InstanceDraining
						return a
					}(),
					instance("b1", "b")},
				Tasks: []flotilla.Task{newTask("d-run", "1", "a1", flotilla.TaskRunning), newTask("b-run", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "d-run")
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1})
			},
		},
		{
			name: "a draining instance empties even while the deployment is failed",
			in: Input{Service: func() flotilla.Service {
				s := rolling(2, 50, 200)
				s.Deployments[0].RolloutState = flotilla.RolloutFailed
				return s
			}(), Instances: []flotilla.ContainerInstance{
				func() flotilla.ContainerInstance {
					a := instance("a1", "a")
					a.Status = flotilla.InstanceDraining
					return a
				}(),
				instance("b1", "b")},
				Tasks: []flotilla.Task{
					newTask("old-a", "1", "a1", flotilla.TaskRunning), newTask("old-a-pend", "1", "a1", flotilla.TaskPending),
					newTask("old-b", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				// 2 healthy, floor 1: the running one may go too.
				wantStops(t, p, "old-a", "old-a-pend")
				wantStarts(t, p)
			},
		},
		{
			name: "tasks on an instance lost beyond the grace period are replaced, and kept until their replacements are healthy",
			in: Input{Service: single(2), InstanceGracePeriod: 30 * time.Second, Instances: []flotilla.ContainerInstance{
				func() flotilla.ContainerInstance {
					a := instance("a1", "a")
					a.AgentConnected, a.DisconnectedAt = false, t0.Add(-45*time.Second)
					return a
				}(), instance("b1", "b")},
				Tasks: []flotilla.Task{
					newTask("lost", "1", "a1", flotilla.TaskRunning),
					newTask("lost-stopping", "1", "a1", flotilla.TaskRunning, desiredStopped),
					newTask("ok", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "lost-stopping")
				for _, s := range p.Stop {
					if !s.Lost || s.Reason != ReasonAgentLost {
						t.Errorf("stop = %+v", s)
					}
				}
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1})
			},
		},
		{
			name: "tasks on a disconnected instance wait for the end of the grace period",
			in: Input{Service: single(2), InstanceGracePeriod: 30 * time.Second, Instances: []flotilla.ContainerInstance{
				func() flotilla.ContainerInstance {
					a := instance("a1", "a")
					a.AgentConnected, a.DisconnectedAt = false, t0.Add(-10*time.Second)
					return a
				}(), instance("b1", "b")},
				Tasks: []flotilla.Task{newTask("away", "1", "a1", flotilla.TaskRunning), newTask("ok", "1", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p)
				if !p.Next.Equal(t0.Add(20 * time.Second)) {
					t.Errorf("Next = %v, want %v", p.Next, t0.Add(20*time.Second))
				}
			},
		},
		{
			name: "tasks on a deregistered instance are lost",
			in:   Input{Service: single(1), Instances: cluster, Tasks: []flotilla.Task{newTask("orphan", "1", "gone", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "orphan")
				if s := p.Stop[0]; !s.Lost || s.Reason != ReasonInstanceGone {
					t.Errorf("stop = %+v", s)
				}
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1})
			},
		},
		{
			name: "tasks of other groups are ignored",
			in: Input{Service: single(1), Instances: cluster, Tasks: []flotilla.Task{
				newTask("mine", "1", "a1", flotilla.TaskRunning),
				newTask("theirs", "1", "a1", flotilla.TaskRunning, func(t *flotilla.Task) { t.Group = "service:other" })}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p)
			},
		},
		{
			name: "tasks no deployment started are not the service's",
			in: Input{Service: single(1), Instances: cluster, Tasks: []flotilla.Task{
				newTask("mine", "1", "a1", flotilla.TaskRunning),
				newTask("run-task", "1", "b1", flotilla.TaskRunning, func(t *flotilla.Task) { t.StartedBy = "someone" })}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p)
				wantStarts(t, p)
			},
		},
		{
			name: "tasks of a deployment no longer listed go",
			in: Input{Service: single(1), Instances: cluster, Tasks: []flotilla.Task{
				newTask("mine", "1", "a1", flotilla.TaskRunning), newTask("straggler", "0", "b1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "straggler")
				wantStarts(t, p)
			},
		},
		{
			name: "a service being deleted stops every task",
			in: Input{Service: func() flotilla.Service { s := rolling(0, 100, 200); s.Status = flotilla.ServiceDraining; return s }(),
				Instances: cluster, Tasks: []flotilla.Task{
					newTask("a", "1", "a1", flotilla.TaskRunning), newTask("b", "2", "b1", flotilla.TaskPending),
					newTask("c", "2", "c1", flotilla.TaskStopped)}},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "a", "b")
				wantStarts(t, p)
			},
		},
	})
}

func TestReconcileSteadyState(t *testing.T) {
	s := newService(2, 100, 200, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 30))
	in := Input{Service: s, Instances: cluster, Now: t0, Tasks: tasksOf(2, "x", "1", abc)}
	p := Reconcile(in)
	checkInvariants(t, in, p)
	wantEvents(t, p, "(service web) has reached a steady state.")
	if !p.Changed || len(p.Service.Events) != 1 {
		t.Fatalf("plan = %+v", p)
	}
	// Written back, the next reconcile has nothing to say.
	in.Service, in.Now = p.Service, t0.Add(time.Minute)
	p2 := Reconcile(in)
	if p2.Changed || len(p2.Service.Events) != 1 || len(p2.Start)+len(p2.Stop) != 0 || !p2.Next.IsZero() {
		t.Errorf("second plan = %+v", p2)
	}
	// A task dies and is replaced: the service reaches a steady state anew.
	in.Service = p2.Service
	in.Tasks[0].LastStatus, in.Tasks[0].DesiredStatus = flotilla.TaskStopped, flotilla.TaskStopped
	in.Tasks[0].StopCode = flotilla.StopEssentialContainerExited
	p3 := Reconcile(in)
	wantStarts(t, p3, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1})
	in.Service = p3.Service
	in.Service.Events = append([]flotilla.ServiceEvent{{ID: "e", CreatedAt: in.Now, Message: "(service web) has started 1 tasks: (task y)."}}, in.Service.Events...)
	in.Tasks = append(in.Tasks, newTask("y", "1", "c1", flotilla.TaskRunning))
	p4 := Reconcile(in)
	wantEvents(t, p4, "(service web) has reached a steady state.", "(service web) has started 1 tasks: (task y).")
}

func TestReconcileEventsCapped(t *testing.T) {
	s := newService(1, 100, 200, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 30))
	for i := range flotilla.MaxServiceEvents {
		s.Events = append(s.Events, flotilla.ServiceEvent{ID: fmt.Sprint(i), CreatedAt: t0.Add(-time.Duration(i) * time.Minute), Message: "old"})
	}
	in := Input{Service: s, Instances: cluster, Now: t0, Tasks: []flotilla.Task{newTask("x", "1", "a1", flotilla.TaskRunning)}}
	p := Reconcile(in)
	if len(p.Service.Events) != flotilla.MaxServiceEvents || p.Service.Events[0].Message != "(service web) has reached a steady state." ||
		p.Service.Events[1].ID != "0" {
		t.Errorf("events = %d, first %+v", len(p.Service.Events), p.Service.Events[:2])
	}
	if id := p.Service.Events[0].ID; len(id) != 36 || id[14] != '4' {
		t.Errorf("event id %q is not UUID-shaped", id)
	}
	if len(s.Events) != flotilla.MaxServiceEvents || s.Events[0].ID != "0" {
		t.Error("Reconcile changed its input's events")
	}
}

func TestReconcileCircuitBreaker(t *testing.T) {
	failing := func(n int, dep string) []flotilla.Task {
		var ts []flotilla.Task
		for i := range n {
			at := t0.Add(-time.Duration(n-i) * time.Minute)
			ts = append(ts, newTask(fmt.Sprintf("fail-%d", i), dep, abc[i%3], flotilla.TaskStopped,
				taskDef(td2), createdAt(at.Add(-time.Minute)), failedToStart(at)))
		}
		return ts
	}
	breaker := func(rollback bool) flotilla.Service {
		s := rolling(4, 100, 200)
		s.DeploymentConfiguration.CircuitBreaker = flotilla.CircuitBreaker{Enable: true, Rollback: rollback}
		return s
	}
	old := tasksOf(4, "old", "1", abc)
	runCases(t, []reconcileCase{
		{
			name: "below the threshold, failures only throttle",
			in:   Input{Service: breaker(false), Instances: cluster, Tasks: append(slices.Clone(old), failing(2, "2")...)},
			check: func(t *testing.T, p Plan) {
				// The last failure was a minute ago, past the 10 s delay.
				wantStarts(t, p, Start{DeploymentID: "2", TaskDefinitionARN: td2, Count: 4})
				d := primaryOf(p.Service)
				if d.RolloutState != flotilla.RolloutInProgress || d.FailedTasks != 2 {
					t.Errorf("primary = %+v", d)
				}
				wantEvents(t, p, "(service web) is unable to consistently start tasks successfully.")
			},
		},
		{
			name: "at the threshold, the deployment fails and starts nothing more",
			in:   Input{Service: breaker(false), Instances: cluster, Tasks: append(slices.Clone(old), failing(3, "2")...)},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p)
				wantStops(t, p)
				d := primaryOf(p.Service)
				if d.ID != "2" || d.RolloutState != flotilla.RolloutFailed || d.FailedTasks != 3 ||
					d.RolloutStateReason != "ECS deployment circuit breaker: tasks failed to start." {
					t.Errorf("primary = %+v", d)
				}
				wantEvents(t, p, "(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start.")
			},
		},
		{
			name: "with rollback, a new deployment of the last completed one takes over",
			in:   Input{Service: breaker(true), Instances: cluster, Tasks: append(slices.Clone(old), failing(3, "2")...)},
			check: func(t *testing.T, p Plan) {
				d := primaryOf(p.Service)
				if d.ID == "2" || d.ID == "1" || len(d.ID) != 20 || d.TaskDefinitionARN != td1 || d.RolloutState != flotilla.RolloutInProgress ||
					d.DesiredCount != 4 || d.RolloutStateReason != "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1." ||
					!d.CreatedAt.Equal(t0) {
					t.Errorf("primary = %+v", d)
				}
				if f := deploymentByID(p.Service, "2"); f.Status != flotilla.DeploymentActive || f.RolloutState != flotilla.RolloutFailed {
					t.Errorf("failed deployment = %+v", f)
				}
				if p.Service.TaskDefinitionARN != td1 || len(p.Service.Deployments) != 3 {
					t.Errorf("service = %s, %d deployments", p.Service.TaskDefinitionARN, len(p.Service.Deployments))
				}
				wantStarts(t, p, Start{DeploymentID: d.ID, TaskDefinitionARN: td1, Count: 4})
				wantEvents(t, p, "(service web) rolling back to deployment ecs-svc/1.",
					"(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start.")
			},
		},
		{
			name: "rollback goes to the newest completed deployment",
			in: Input{Service: func() flotilla.Service {
				s := newService(4, 100, 200,
					deployment("3", flotilla.DeploymentPrimary, td1[:len(td1)-1]+"3", flotilla.RolloutInProgress, 1),
					deployment("1", flotilla.DeploymentActive, td1, flotilla.RolloutCompleted, 60),
					deployment("2", flotilla.DeploymentActive, td2, flotilla.RolloutCompleted, 30))
				s.DeploymentConfiguration.CircuitBreaker = flotilla.CircuitBreaker{Enable: true, Rollback: true}
				return s
			}(), Instances: cluster, Tasks: append(tasksOf(4, "old", "2", abc, taskDef(td2)), failing(3, "3")...)},
			check: func(t *testing.T, p Plan) {
				if d := primaryOf(p.Service); d.TaskDefinitionARN != td2 ||
					d.RolloutStateReason != "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/2." {
					t.Errorf("primary = %+v", d)
				}
				wantEvents(t, p, "(service web) rolling back to deployment ecs-svc/2.")
			},
		},
		{
			name: "tasks the scheduler stopped before they ran are not failures",
			in: Input{Service: breaker(false), Instances: cluster, Tasks: append(slices.Clone(old),
				tasksOf(3, "cancelled", "2", abc, taskDef(td2), func(t *flotilla.Task) {
					t.LastStatus, t.StartedAt = flotilla.TaskStopped, time.Time{}
					desiredStopped(t)
				})...)},
			check: func(t *testing.T, p Plan) {
				if d := primaryOf(p.Service); d.RolloutState != flotilla.RolloutInProgress || d.FailedTasks != 0 {
					t.Errorf("primary = %+v", d)
				}
			},
		},
		{
			name: "a failed rollback is not rolled back again",
			in: Input{Service: func() flotilla.Service {
				s := breaker(true)
				s.Deployments[0].RolloutStateReason = "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1."
				return s
			}(), Instances: cluster, Tasks: append(slices.Clone(old), failing(3, "2")...)},
			check: func(t *testing.T, p Plan) {
				if d := primaryOf(p.Service); d.ID != "2" || d.RolloutState != flotilla.RolloutFailed {
					t.Errorf("primary = %+v", d)
				}
				wantStarts(t, p)
			},
		},
		{
			name: "a task that ran resets the count",
			in: Input{Service: breaker(true), Instances: cluster, Tasks: append(append(slices.Clone(old), failing(3, "2")...),
				newTask("new-ok", "2", "a1", flotilla.TaskRunning, taskDef(td2), createdAt(t0.Add(-30*time.Second))))},
			check: func(t *testing.T, p Plan) {
				if d := primaryOf(p.Service); d.ID != "2" || d.RolloutState != flotilla.RolloutInProgress || d.FailedTasks != 0 {
					t.Errorf("primary = %+v", d)
				}
				wantStarts(t, p, Start{DeploymentID: "2", TaskDefinitionARN: td2, Count: 3})
			},
		},
		{
			name: "failures after the last task that ran count",
			in: Input{Service: breaker(false), Instances: cluster, Tasks: append(append(slices.Clone(old), failing(3, "2")...),
				newTask("new-ok", "2", "a1", flotilla.TaskRunning, taskDef(td2), createdAt(t0.Add(-time.Hour))))},
			check: func(t *testing.T, p Plan) {
				if d := primaryOf(p.Service); d.RolloutState != flotilla.RolloutFailed || d.FailedTasks != 3 {
					t.Errorf("primary = %+v", d)
				}
			},
		},
		{
			name: "tasks failing health checks count",
			in: Input{Service: breaker(false), Instances: cluster, Tasks: append(slices.Clone(old),
				tasksOf(3, "sick", "2", abc, taskDef(td2), func(t *flotilla.Task) {
					t.DesiredStatus, t.LastStatus = flotilla.TaskStopped, flotilla.TaskStopped
					t.StopCode, t.StoppedReason = flotilla.StopServiceSchedulerInit, ReasonUnhealthy
				})...)},
			check: func(t *testing.T, p Plan) {
				if d := primaryOf(p.Service); d.RolloutState != flotilla.RolloutFailed || d.FailedTasks != 3 {
					t.Errorf("primary = %+v", d)
				}
			},
		},
		{
			name: "a completed deployment does not fail, it is throttled",
			in: Input{Service: func() flotilla.Service {
				s := newService(1, 100, 200, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 60))
				s.DeploymentConfiguration.CircuitBreaker = flotilla.CircuitBreaker{Enable: true, Rollback: true}
				s.Deployments[0].FailedTasks = 3
				return s
			}(), Instances: cluster, Tasks: []flotilla.Task{
				newTask("f1", "1", "a1", flotilla.TaskStopped, createdAt(t0.Add(-3*time.Minute)), failedToStart(t0.Add(-3*time.Minute))),
				newTask("f2", "1", "a1", flotilla.TaskStopped, createdAt(t0.Add(-2*time.Minute)), failedToStart(t0.Add(-2*time.Minute))),
				newTask("f3", "1", "a1", flotilla.TaskStopped, createdAt(t0.Add(-10*time.Second)), failedToStart(t0.Add(-10*time.Second)))}},
			check: func(t *testing.T, p Plan) {
				// 3 failures: 20 s after the last one, 10 s from now.
				wantStarts(t, p)
				if !p.Next.Equal(t0.Add(10 * time.Second)) {
					t.Errorf("Next = %v", p.Next)
				}
				if d := primaryOf(p.Service); d.RolloutState != flotilla.RolloutCompleted {
					t.Errorf("primary = %+v", d)
				}
				if len(p.Service.Events) != 0 {
					t.Errorf("events = %q, want none (the count did not grow)", messages(p.Service))
				}
			},
		},
		{
			name: "a new deployment is not throttled by the old one's failures",
			in: Input{Service: rolling(1, 100, 200), Instances: cluster, Tasks: []flotilla.Task{
				newTask("f1", "1", "a1", flotilla.TaskStopped, failedToStart(t0.Add(-3*time.Second))),
				newTask("f2", "1", "a1", flotilla.TaskStopped, failedToStart(t0.Add(-2*time.Second))),
				newTask("f3", "1", "a1", flotilla.TaskStopped, failedToStart(t0.Add(-time.Second)))}},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p, Start{DeploymentID: "2", TaskDefinitionARN: td2, Count: 1})
			},
		},
		{
			name: "a failed deployment keeps the older tasks",
			in: Input{Service: func() flotilla.Service {
				s := rolling(4, 50, 200)
				s.Deployments[0].RolloutState = flotilla.RolloutFailed
				return s
			}(), Instances: cluster, Tasks: append(slices.Clone(old), newTask("new-0", "2", "a1", flotilla.TaskRunning, taskDef(td2)))},
			check: func(t *testing.T, p Plan) {
				// 5 tasks for 4 desired: one older task goes, no more.
				if len(p.Stop) != 1 || !strings.HasPrefix(p.Stop[0].TaskID, "old-") {
					t.Errorf("stops = %v", stopIDs(p))
				}
				wantStarts(t, p)
			},
		},
	})
}

func TestReconcileThrottle(t *testing.T) {
	s := newService(2, 100, 200, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutInProgress, 60))
	var tasks []flotilla.Task
	for i := range 4 {
		at := t0.Add(time.Duration(i-4) * time.Second)
		tasks = append(tasks, newTask(fmt.Sprint("f", i), "1", "a1", flotilla.TaskStopped, createdAt(at), failedToStart(at)))
	}
	in := Input{Service: s, Instances: cluster, Tasks: tasks, Now: t0}
	p := Reconcile(in)
	checkInvariants(t, in, p)
	// 4 failures in a row: 40 s after the last one, at t0-1s.
	wantStarts(t, p)
	if want := t0.Add(39 * time.Second); !p.Next.Equal(want) {
		t.Errorf("Next = %v, want %v", p.Next, want)
	}
	wantEvents(t, p, "(service web) is unable to consistently start tasks successfully.")
	in.Service, in.Now = p.Service, p.Next
	p = Reconcile(in)
	wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 2})
	if len(p.Service.Events) != 1 {
		t.Errorf("events = %q, want the throttle event once", messages(p.Service))
	}
}

func TestReconcileDaemon(t *testing.T) {
	daemon := func(minPct int, deps ...flotilla.Deployment) flotilla.Service {
		s := newService(0, minPct, 100, deps...)
		s.SchedulingStrategy = flotilla.SchedulingDaemon
		return s
	}
	one := func() flotilla.Service {
		return daemon(0, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutInProgress, 5))
	}
	update := func(minPct int) flotilla.Service {
		return daemon(minPct, deployment("2", flotilla.DeploymentPrimary, td2, flotilla.RolloutInProgress, 1),
			deployment("1", flotilla.DeploymentActive, td1, flotilla.RolloutCompleted, 60))
	}
	four := append(slices.Clone(cluster), instance("d1", "a"))
	mixed := []flotilla.ContainerInstance{
		instance("a1", "a"), instance("b1", "b"),
		func() flotilla.ContainerInstance {
			c := instance("c1", "c")
			c.Status = flotilla.InstanceDraining
			return c
		}(),
		instance("z1", "z"), // outside the memberOf expression
		func() flotilla.ContainerInstance {
			e := instance("e1", "a")
			e.AgentConnected, e.DisconnectedAt = false, t0.Add(-5*time.Second)
			return e
		}(),
		func() flotilla.ContainerInstance {
			r := instance("r1", "b")
			r.Status = flotilla.InstanceRegistering
			return r
		}(),
	}
	inABC := []scheduler.Constraint{{Type: "memberOf", Expression: "attribute:ecs.availability-zone in [a, b, c]"}}
	runCases(t, []reconcileCase{
		{
			name: "one task on each eligible instance, none elsewhere",
			in: Input{Service: one(), Instances: mixed, Constraints: inABC, Tasks: []flotilla.Task{
				newTask("on-draining", "1", "c1", flotilla.TaskRunning), newTask("on-z", "1", "z1", flotilla.TaskRunning)}},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p,
					Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1, InstanceID: "a1"},
					Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1, InstanceID: "b1"})
				wantStops(t, p, "on-draining", "on-z")
				if s := stopOf(p, "on-draining"); s.Reason != ReasonDraining {
					t.Errorf("stop = %+v", s)
				}
				if s := stopOf(p, "on-z"); s.Reason != ReasonIneligible {
					t.Errorf("stop = %+v", s)
				}
				// a1, b1 and e1, whose agent may come back.
				if p.Service.DesiredCount != 3 || p.Service.Deployments[0].DesiredCount != 3 {
					t.Errorf("desired count = %d", p.Service.DesiredCount)
				}
				if !p.Next.Equal(t0.Add(25 * time.Second)) {
					t.Errorf("Next = %v, want the end of e1's grace period", p.Next)
				}
			},
		},
		{
			name: "a newly joined instance gets a task",
			in:   Input{Service: one(), Instances: four, Tasks: tasksOf(3, "x", "1", abc)},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p, Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1, InstanceID: "d1"})
				wantStops(t, p)
				if p.Service.DesiredCount != 4 {
					t.Errorf("desired count = %d", p.Service.DesiredCount)
				}
			},
		},
		{
			name: "a second task on an instance stops",
			in: Input{Service: one(), Instances: cluster, Tasks: append(tasksOf(3, "x", "1", abc),
				newTask("dup", "1", "a1", flotilla.TaskPending))},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "dup")
				wantStarts(t, p)
			},
		},
		{
			name: "0/100 stops the old tasks first",
			in:   Input{Service: update(0), Instances: cluster, Tasks: tasksOf(3, "old", "1", abc)},
			check: func(t *testing.T, p Plan) {
				wantStops(t, p, "old-0", "old-1", "old-2")
				wantStarts(t, p)
			},
		},
		{
			name: "then starts the new ones once they have stopped",
			in: Input{Service: update(0), Instances: cluster, Tasks: append(
				tasksOf(2, "old", "1", abc, func(t *flotilla.Task) { desiredStopped(t); t.LastStatus = flotilla.TaskStopped }),
				newTask("old-2", "1", "c1", flotilla.TaskDeprovisioning, desiredStopped))},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p,
					Start{DeploymentID: "2", TaskDefinitionARN: td2, Count: 1, InstanceID: "a1"},
					Start{DeploymentID: "2", TaskDefinitionARN: td2, Count: 1, InstanceID: "b1"})
				wantStops(t, p)
			},
		},
		{
			name: "50/100 replaces half at a time",
			in:   Input{Service: update(50), Instances: four, Tasks: tasksOf(4, "old", "1", []string{"a1", "b1", "c1", "d1"})},
			check: func(t *testing.T, p Plan) {
				if len(p.Stop) != 2 {
					t.Errorf("stops = %v, want 2", stopIDs(p))
				}
				wantStarts(t, p)
			},
		},
		{
			name: "it completes when each instance runs the new task",
			in: Input{Service: update(0), Instances: cluster, Tasks: append(tasksOf(3, "new", "2", abc, taskDef(td2)),
				tasksOf(3, "old", "1", abc, func(t *flotilla.Task) { desiredStopped(t); t.LastStatus = flotilla.TaskStopped })...)},
			check: func(t *testing.T, p Plan) {
				if len(p.Service.Deployments) != 1 || p.Service.Deployments[0].RolloutState != flotilla.RolloutCompleted {
					t.Errorf("deployments = %+v", p.Service.Deployments)
				}
				wantEvents(t, p, "(service web) has reached a steady state.", "(service web) (deployment ecs-svc/2) deployment completed.")
			},
		},
		{
			name: "task:group in memberOf sees the cluster's groups",
			in: Input{Service: one(), Instances: cluster,
				Constraints:    []scheduler.Constraint{{Type: "memberOf", Expression: "not(task:group == service:db)"}},
				InstanceGroups: map[string][]string{"b1": {"service:db"}}},
			check: func(t *testing.T, p Plan) {
				wantStarts(t, p,
					Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1, InstanceID: "a1"},
					Start{DeploymentID: "1", TaskDefinitionARN: td1, Count: 1, InstanceID: "c1"})
			},
		},
	})
}

// TestReconcileIsPure checks that Reconcile leaves its input alone and
// answers the same whatever the order of tasks and instances.
func TestReconcileIsPure(t *testing.T) {
	in := Input{Service: rolling(4, 50, 150), Instances: cluster, Now: t0,
		Tasks: append(tasksOf(4, "old", "1", abc), newTask("new-0", "2", "a1", flotilla.TaskPending, taskDef(td2)))}
	before := deepCopy(t, in)
	p := Reconcile(in)
	if !reflect.DeepEqual(in, before) {
		t.Fatal("Reconcile changed its input")
	}
	slices.Reverse(in.Tasks)
	slices.Reverse(in.Instances)
	if p2 := Reconcile(in); !reflect.DeepEqual(p, p2) {
		t.Errorf("plans differ with the order of the input:\n%+v\n%+v", p, p2)
	}
}
