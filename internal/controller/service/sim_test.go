package service

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
)

// world is a fake cluster that applies plans as the service controller
// does, places tasks with the real scheduler, and moves tasks along their
// lifecycle one status per step: PROVISIONING, PENDING, then RUNNING (or
// STOPPED for a task definition that crashes), then HEALTHY when the task
// is health-checked. Tasks asked to stop are STOPPED a step later.
type world struct {
	t       *testing.T
	in      Input
	crash   map[string]bool // task definitions whose tasks never start
	sick    map[string]bool // tasks whose container health checks fail
	checked bool            // tasks have a container health check
	step    int
	seq     int
	// floor makes each step check that the plan, once applied, leaves at
	// least the minimum of healthy tasks and at most the maximum of tasks.
	floor bool
	log   []string
}

func newWorld(t *testing.T, svc flotilla.Service, instances []flotilla.ContainerInstance) *world {
	// A deep copy: reservations change the instances' resources in place.
	return &world{t: t, in: Input{Service: svc, Instances: deepCopy(t, instances), Now: t0}, crash: map[string]bool{}, sick: map[string]bool{}, floor: true}
}

func (w *world) instance(id string) *flotilla.ContainerInstance {
	for i := range w.in.Instances {
		if w.in.Instances[i].ID == id {
			return &w.in.Instances[i]
		}
	}
	return nil
}

// add puts a task of a deployment on an instance, as the controller's
// placement would, in the given status.
func (w *world) add(dep, def, inst, status string) *flotilla.Task {
	w.seq++
	tk := newTask(fmt.Sprintf("task%03d", w.seq), dep, inst, status, taskDef(def), createdAt(w.in.Now))
	if !flotilla.TaskStatusAfter(flotilla.TaskRunning, status) {
		tk.StartedAt = w.in.Now
	}
	if w.checked {
		h := flotilla.HealthUnknown
		if status == flotilla.TaskRunning {
			h = flotilla.HealthHealthy
		}
		health(h)(&tk)
	}
	if ci := w.instance(inst); ci != nil {
		ci.Reserve(tk.Reservation)
	}
	w.in.Tasks = append(w.in.Tasks, tk)
	return &w.in.Tasks[len(w.in.Tasks)-1]
}

func (w *world) task(id string) *flotilla.Task {
	for i := range w.in.Tasks {
		if w.in.Tasks[i].ID == id {
			return &w.in.Tasks[i]
		}
	}
	w.t.Fatalf("no task %s", id)
	return nil
}

func (w *world) release(tk *flotilla.Task) {
	if ci := w.instance(tk.InstanceID); ci != nil {
		ci.Release(tk.Reservation)
	}
}

// reconcile runs one reconcile and applies its plan.
func (w *world) reconcile() Plan {
	w.t.Helper()
	w.step++
	p := Reconcile(w.in)
	checkInvariants(w.t, w.in, p)
	w.log = append(w.log, fmt.Sprintf("step %d at +%v: start %+v stop %v; deployments %s", w.step, w.in.Now.Sub(t0),
		p.Start, stopIDs(p), describeDeployments(p.Service)))
	now := w.in.Now
	for _, s := range p.Stop {
		tk := w.task(s.TaskID)
		tk.DesiredStatus, tk.StopCode, tk.StoppedReason, tk.StoppingAt = flotilla.TaskStopped, s.StopCode, s.Reason, now
		if s.Lost {
			tk.LastStatus, tk.StoppedAt = flotilla.TaskStopped, now
			w.release(tk)
		}
	}
	svc := p.Service
	if ids := stopIDs(p); len(ids) > 0 {
		svc.Events = append([]flotilla.ServiceEvent{{ID: fmt.Sprint("stopped-", w.step), CreatedAt: now,
			Message: fmt.Sprintf("(service %s) has stopped %d running tasks: %s.", svc.Name, len(ids), taskList(ids))}}, svc.Events...)
	}
	for _, s := range p.Start {
		ids := w.place(s)
		if len(ids) > 0 {
			svc.Events = append([]flotilla.ServiceEvent{{ID: fmt.Sprint("started-", w.step), CreatedAt: now,
				Message: fmt.Sprintf("(service %s) has started %d tasks: %s.", svc.Name, len(ids), taskList(ids))}}, svc.Events...)
		}
	}
	w.in.Service = svc
	if w.floor {
		w.checkBounds(p)
	}
	return p
}

// place starts the tasks of a Start where the scheduler puts them, and
// returns their IDs; some may not fit.
func (w *world) place(s Start) []string {
	if s.InstanceID != "" {
		return []string{w.add(s.DeploymentID, s.TaskDefinitionARN, s.InstanceID, flotilla.TaskProvisioning).ID}
	}
	var ids []string
	strategies := w.in.Strategies
	if len(strategies) == 0 {
		strategies = scheduler.DefaultServiceStrategies
	}
	plan, err := scheduler.Compile(nil, strategies)
	if err != nil {
		w.t.Fatal(err)
	}
	snap := scheduler.NewSnapshot(w.in.Instances, scheduler.GroupsByInstance(w.in.Tasks))
	placed, _ := snap.Place(plan, scheduler.Request{Group: flotilla.ServiceGroup(w.in.Service.Name), Reservation: flotilla.Reservation{CPU: 256, MemoryMiB: 512}}, s.Count)
	for _, pl := range placed {
		ids = append(ids, w.add(s.DeploymentID, s.TaskDefinitionARN, pl.InstanceID, flotilla.TaskProvisioning).ID)
	}
	return ids
}

// checkBounds checks the deployment configuration's bounds on the cluster
// as the plan left it.
func (w *world) checkBounds(p Plan) {
	w.t.Helper()
	d := p.Service.DesiredCount
	minH, maxT := bounds(p.Service.DeploymentConfiguration, p.Service.SchedulingStrategy == flotilla.SchedulingDaemon, d)
	live, healthy := 0, 0
	for _, tk := range w.in.Tasks {
		if specLive(tk) {
			live++
		}
		if specHealthy(w.in, tk) {
			healthy++
		}
	}
	if live > maxT || healthy < minH {
		w.t.Errorf("step %d: %d tasks (maximum %d), %d healthy (minimum %d)\n%s", w.step, live, maxT, healthy, minH, strings.Join(w.log, "\n"))
	}
}

// advance moves time and every task one step along.
func (w *world) advance(d time.Duration) {
	w.in.Now = w.in.Now.Add(d)
	now := w.in.Now
	for i := range w.in.Tasks {
		tk := &w.in.Tasks[i]
		if ci := w.instance(tk.InstanceID); ci != nil && !ci.AgentConnected {
			continue // nobody reports on this one
		}
		switch {
		case tk.LastStatus == flotilla.TaskStopped:
		case tk.DesiredStatus == flotilla.TaskStopped:
			tk.LastStatus, tk.StoppedAt = flotilla.TaskStopped, now
			w.release(tk)
		case tk.LastStatus == flotilla.TaskProvisioning:
			tk.LastStatus = flotilla.TaskPending
		case tk.LastStatus == flotilla.TaskPending && w.crash[tk.TaskDefinitionARN]:
			tk.LastStatus, tk.DesiredStatus, tk.StoppingAt, tk.StoppedAt = flotilla.TaskStopped, flotilla.TaskStopped, now, now
			tk.StopCode, tk.StoppedReason = flotilla.StopTaskFailedToStart, "Essential container in task exited"
			w.release(tk)
		case tk.LastStatus == flotilla.TaskPending:
			tk.LastStatus, tk.StartedAt = flotilla.TaskRunning, now
		case tk.LastStatus == flotilla.TaskRunning && w.sick[tk.ID]:
			health(flotilla.HealthUnhealthy)(tk)
		case tk.LastStatus == flotilla.TaskRunning && tk.HealthStatus != flotilla.HealthHealthy && tk.Containers[0].HealthStatus != "":
			health(flotilla.HealthHealthy)(tk)
		}
	}
}

// run reconciles and advances until done says so, at most steps times.
func (w *world) run(steps int, done func() bool) {
	w.t.Helper()
	for range steps {
		p := w.reconcile()
		if done() {
			return
		}
		step := 15 * time.Second
		if len(p.Start)+len(p.Stop) == 0 && !p.Next.IsZero() {
			step = max(step, p.Next.Sub(w.in.Now))
		}
		w.advance(step)
	}
	w.t.Fatalf("no convergence after %d steps\n%s", steps, strings.Join(w.log, "\n"))
}

// converged reports whether the service has settled: one COMPLETED
// deployment of the task definition, its desired count of healthy tasks
// and nothing else, and the steady state event last.
func (w *world) converged(taskDef string) bool {
	s := w.in.Service
	if len(s.Deployments) != 1 || s.Deployments[0].RolloutState != flotilla.RolloutCompleted || s.Deployments[0].TaskDefinitionARN != taskDef {
		return false
	}
	n := 0
	for _, tk := range w.in.Tasks {
		if tk.LastStatus == flotilla.TaskStopped {
			continue
		}
		if !specHealthy(w.in, tk) || tk.StartedBy != flotilla.DeploymentStartedBy(s.Deployments[0].ID) || tk.TaskDefinitionARN != taskDef {
			return false
		}
		n++
	}
	return n == s.DesiredCount && len(s.Events) > 0 && s.Events[0].Message == "(service web) has reached a steady state."
}

func taskList(ids []string) string {
	var parts []string
	for _, id := range ids {
		parts = append(parts, "(task "+id+")")
	}
	return strings.Join(parts, " ")
}

func describeDeployments(s flotilla.Service) string {
	var parts []string
	for _, d := range s.Deployments {
		parts = append(parts, fmt.Sprintf("%s %s %s %d/%d/%d", d.ID, d.Status, d.RolloutState, d.RunningCount, d.PendingCount, d.DesiredCount))
	}
	return strings.Join(parts, ", ")
}

func TestSimulateRollingUpdate(t *testing.T) {
	for _, c := range []struct {
		min, max int
		checked  bool
		strategy []scheduler.Strategy
	}{
		{50, 150, false, nil},
		{100, 200, false, nil},
		{50, 150, true, []scheduler.Strategy{{Type: "spread", Field: "instanceId"}}},
		{100, 200, true, []scheduler.Strategy{{Type: "binpack", Field: "memory"}}},
		{75, 125, true, nil},
		{0, 100, false, nil},
	} {
		t.Run(fmt.Sprintf("%d-%d-checked=%v-%v", c.min, c.max, c.checked, c.strategy), func(t *testing.T) {
			w := newWorld(t, rolling(4, c.min, c.max), cluster)
			w.checked, w.in.Strategies = c.checked, c.strategy
			for i := range 4 {
				w.add("1", td1, abc[i%3], flotilla.TaskRunning)
			}
			w.run(60, func() bool { return w.converged(td2) })
			events := messages(w.in.Service)
			if !slices.Contains(events, "(service web) (deployment ecs-svc/2) deployment completed.") {
				t.Errorf("events = %q", events)
			}
		})
	}
}

// TestSimulateUnhealthyReplacement makes some or all of a steady
// service's tasks fail their container health checks and runs the world
// until they are replaced: within the bounds at every step (checked by the
// world, and by checkInvariants: at most one not yet replaced stopped per
// step), each stopped for failing its health checks, the service steady
// again on healthy tasks.
func TestSimulateUnhealthyReplacement(t *testing.T) {
	for _, c := range []struct{ sick, min, max int }{
		{1, 100, 200}, {2, 50, 100}, {1, 100, 100}, {4, 100, 200}, {4, 0, 100}, {4, 50, 150},
	} {
		t.Run(fmt.Sprintf("%d-sick-%d-%d", c.sick, c.min, c.max), func(t *testing.T) {
			svc := newService(4, c.min, c.max, deployment("1", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 60))
			w := newWorld(t, svc, cluster)
			w.checked = true
			// The floor of healthy tasks cannot hold once more are sick
			// than it allows; checkInvariants still checks every plan.
			minH, _ := bounds(svc.DeploymentConfiguration, false, 4)
			w.floor = 4-c.sick >= minH
			for i := range 4 {
				tk := w.add("1", td1, abc[i%3], flotilla.TaskRunning)
				if i < c.sick {
					w.sick[tk.ID] = true
					health(flotilla.HealthUnhealthy)(tk)
				}
			}
			w.run(60, func() bool {
				for _, tk := range w.in.Tasks {
					if w.sick[tk.ID] && tk.LastStatus != flotilla.TaskStopped {
						return false
					}
				}
				return w.converged(td1)
			})
			stopped := 0
			for _, tk := range w.in.Tasks {
				if w.sick[tk.ID] && tk.StoppedReason == ReasonUnhealthy {
					stopped++
				}
			}
			if stopped != c.sick {
				t.Errorf("%d sick tasks stopped for failing health checks, want %d\n%s", stopped, c.sick, strings.Join(w.log, "\n"))
			}
		})
	}
}

func TestSimulateCircuitBreakerRollback(t *testing.T) {
	for _, c := range []struct{ min, max int }{{100, 200}, {50, 150}, {50, 200}} {
		t.Run(fmt.Sprintf("%d-%d", c.min, c.max), func(t *testing.T) {
			svc := rolling(4, c.min, c.max)
			svc.DeploymentConfiguration.CircuitBreaker = flotilla.CircuitBreaker{Enable: true, Rollback: true}
			w := newWorld(t, svc, cluster)
			w.crash[td2] = true
			for i := range 4 {
				w.add("1", td1, abc[i%3], flotilla.TaskRunning)
			}
			w.run(60, func() bool { return w.converged(td1) })
			s := w.in.Service
			if s.TaskDefinitionARN != td1 || s.Deployments[0].ID == "1" {
				t.Errorf("service on %s, deployment %+v", s.TaskDefinitionARN, s.Deployments[0])
			}
			events := messages(s)
			for _, want := range []string{
				"(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start.",
				"(service web) rolling back to deployment ecs-svc/1.",
			} {
				if !slices.Contains(events, want) {
					t.Errorf("no event %q in %q", want, events)
				}
			}
		})
	}
}

// TestSimulateCrashWithoutBreaker checks that without the circuit breaker
// a crashing deployment keeps the old tasks and only retries, ever more
// slowly.
func TestSimulateCrashWithoutBreaker(t *testing.T) {
	w := newWorld(t, rolling(2, 100, 200), cluster)
	w.crash[td2] = true
	for i := range 2 {
		w.add("1", td1, abc[i], flotilla.TaskRunning)
	}
	var waits []time.Duration
	for range 40 {
		p := w.reconcile()
		if len(p.Start) == 0 && !p.Next.IsZero() {
			waits = append(waits, p.Next.Sub(w.in.Now))
		}
		step := 15 * time.Second
		if len(p.Start)+len(p.Stop) == 0 && !p.Next.IsZero() {
			step = p.Next.Sub(w.in.Now)
		}
		w.advance(step)
	}
	healthy := 0
	for _, tk := range w.in.Tasks {
		if specHealthy(w.in, tk) {
			healthy++
			if tk.TaskDefinitionARN != td1 {
				t.Errorf("healthy task %s of %s", tk.ID, tk.TaskDefinitionARN)
			}
		}
	}
	if healthy != 2 {
		t.Errorf("%d healthy tasks, want the 2 old ones", healthy)
	}
	if len(waits) < 3 || waits[len(waits)-1] < 10*time.Minute {
		t.Errorf("throttle waits %v do not grow", waits)
	}
	if !slices.Contains(messages(w.in.Service), "(service web) is unable to consistently start tasks successfully.") {
		t.Errorf("events = %q", messages(w.in.Service))
	}
	if d := primaryOf(w.in.Service); d.RolloutState != flotilla.RolloutInProgress {
		t.Errorf("primary = %+v", d)
	}
}

func TestSimulateDaemon(t *testing.T) {
	svc := newService(0, 0, 100,
		deployment("2", flotilla.DeploymentPrimary, td2, flotilla.RolloutInProgress, 1),
		deployment("1", flotilla.DeploymentActive, td1, flotilla.RolloutCompleted, 60))
	svc.SchedulingStrategy = flotilla.SchedulingDaemon
	w := newWorld(t, svc, append(slices.Clone(cluster), instance("d1", "d")))
	w.in.Constraints = []scheduler.Constraint{{Type: "memberOf", Expression: "attribute:ecs.availability-zone != d"}}
	for _, id := range abc {
		w.add("1", td1, id, flotilla.TaskRunning)
	}
	w.reconcile()
	w.advance(15 * time.Second)
	// An instance joins, another one drains.
	w.in.Instances = append(w.in.Instances, instance("e1", "e"))
	w.instance("c1").Status = flotilla.InstanceDraining
	w.run(30, func() bool { return w.converged(td2) })
	on := map[string]int{}
	for _, tk := range w.in.Tasks {
		if tk.LastStatus != flotilla.TaskStopped {
			on[tk.InstanceID]++
		}
	}
	if want := map[string]int{"a1": 1, "b1": 1, "e1": 1}; fmt.Sprint(on) != fmt.Sprint(want) {
		t.Errorf("tasks per instance = %v, want %v", on, want)
	}
}

// TestSimulateInstanceLoss loses an instance in the middle of a rolling
// update: its tasks are replaced on the others after the grace period.
func TestSimulateInstanceLoss(t *testing.T) {
	w := newWorld(t, rolling(4, 50, 200), cluster)
	w.floor = false // losing an instance takes its healthy tasks away
	w.checked = true
	for i := range 4 {
		w.add("1", td1, abc[i%3], flotilla.TaskRunning)
	}
	w.reconcile()
	w.advance(15 * time.Second)
	b := w.instance("b1")
	b.AgentConnected, b.DisconnectedAt = false, w.in.Now
	w.run(60, func() bool { return w.converged(td2) })
	for _, tk := range w.in.Tasks {
		if tk.InstanceID == "b1" && tk.LastStatus != flotilla.TaskStopped {
			t.Errorf("task %s left on the lost instance", tk.ID)
		}
	}
}

// TestSimulateRandomWorlds runs random services through many steps of a
// world where tasks crash, instances drain, disconnect and come back, and
// desired counts change, checking the plan's invariants at each step.
func TestSimulateRandomWorlds(t *testing.T) {
	for seed := range uint64(150) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := newRand(seed)
			in := genInput(rng)
			in.Service.Status = flotilla.ServiceActive
			w := &world{t: t, in: in, crash: map[string]bool{}, seq: 100, checked: rng.IntN(2) == 0}
			for _, d := range in.Service.Deployments {
				if rng.IntN(3) == 0 {
					w.crash[d.TaskDefinitionARN] = true
				}
			}
			for range 25 {
				w.reconcile()
				switch rng.IntN(12) {
				case 0:
					if len(w.in.Instances) > 0 {
						ci := pick(rng, w.in.Instances)
						w.instance(ci.ID).Status = flotilla.InstanceDraining
					}
				case 1:
					if len(w.in.Instances) > 0 {
						ci := w.instance(pick(rng, w.in.Instances).ID)
						ci.AgentConnected = !ci.AgentConnected
						ci.DisconnectedAt = time.Time{}
						if !ci.AgentConnected {
							ci.DisconnectedAt = w.in.Now
						}
					}
				case 2:
					w.in.Service.DesiredCount = rng.IntN(9)
				case 3:
					w.in.Instances = append(w.in.Instances, instance(fmt.Sprint("n", w.step), pick(rng, []string{"a", "b"})))
				}
				w.advance(time.Duration(1+rng.IntN(40)) * time.Second)
			}
		})
	}
}
