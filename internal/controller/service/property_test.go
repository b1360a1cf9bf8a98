package service

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/scheduler"
)

// The rules below are written again, independently of the code under test,
// from the ECS semantics: a task counts against maximumPercent while it is
// desired RUNNING and not past RUNNING; it is healthy when it is RUNNING
// (last and desired), not on a lost instance, and HEALTHY if an essential
// container has a health check.

func specLost(in Input, id string) bool {
	return specGone(in, id) || specUnreachable(in, id)
}

// specGone reports whether the instance is deregistered or unknown.
func specGone(in Input, id string) bool {
	for _, ci := range in.Instances {
		if ci.ID == id {
			return ci.Status == flotilla.InstanceInactive
		}
	}
	return id != ""
}

// specUnreachable reports whether the instance's agent has been away for
// the grace period, counted from when the server could have heard from it.
func specUnreachable(in Input, id string) bool {
	grace := in.InstanceGracePeriod
	if grace <= 0 {
		grace = DefaultInstanceGracePeriod
	}
	for _, ci := range in.Instances {
		if ci.ID == id {
			since := ci.DisconnectedAt
			if in.HeardSince.After(since) {
				since = in.HeardSince
			}
			return ci.Status != flotilla.InstanceInactive &&
				!ci.AgentConnected && !ci.DisconnectedAt.IsZero() && !in.Now.Before(since.Add(grace))
		}
	}
	return false
}

func specLive(t flotilla.Task) bool {
	return t.DesiredStatus == flotilla.TaskRunning && !flotilla.TaskStatusAfter(t.LastStatus, flotilla.TaskRunning)
}

func specHealthy(in Input, t flotilla.Task) bool {
	if t.DesiredStatus != flotilla.TaskRunning || t.LastStatus != flotilla.TaskRunning || specLost(in, t.InstanceID) {
		return false
	}
	if in.LoadBalanced && in.TargetHealth[t.ID].State != lb.StateHealthy {
		return false
	}
	for _, c := range t.Containers {
		if c.Essential && c.HealthStatus != "" {
			return t.HealthStatus == flotilla.HealthHealthy
		}
	}
	return true
}

// specRunning reports whether the task is RUNNING (last and desired) on an
// instance that is not lost.
func specRunning(in Input, t flotilla.Task) bool {
	return t.DesiredStatus == flotilla.TaskRunning && t.LastStatus == flotilla.TaskRunning && !specLost(in, t.InstanceID)
}

// specFailOpen reports whether the load balancers route to unhealthy
// targets: no running task's targets are healthy, some are unhealthy.
func specFailOpen(in Input) bool {
	if !in.LoadBalanced {
		return false
	}
	some := false
	for _, t := range specTasks(in) {
		if specRunning(in, t) {
			switch in.TargetHealth[t.ID].State {
			case lb.StateHealthy:
				return false
			case lb.StateUnhealthy:
				some = true
			}
		}
	}
	return some
}

// specServing reports whether the task serves requests: healthy, or
// behind load balancers that fail open with its targets unhealthy.
func specServing(in Input, t flotilla.Task) bool {
	return specHealthy(in, t) ||
		specFailOpen(in) && specRunning(in, t) && in.TargetHealth[t.ID].State == lb.StateUnhealthy
}

// specFailing reports whether the task fails its container or load
// balancer health checks past the service's grace period.
func specFailing(in Input, t flotilla.Task) bool {
	if !specRunning(in, t) || in.Now.Before(t.StartedAt.Add(time.Duration(max(in.Service.HealthCheckGracePeriodSeconds, 0))*time.Second)) {
		return false
	}
	if in.LoadBalanced && in.TargetHealth[t.ID].State == lb.StateUnhealthy {
		return true
	}
	for _, c := range t.Containers {
		if c.Essential && c.HealthStatus != "" {
			return t.HealthStatus == flotilla.HealthUnhealthy
		}
	}
	return false
}

// specTargets returns the instances a DAEMON service must run on.
func specTargets(in Input) map[string]bool {
	out := map[string]bool{}
	for _, ci := range in.Instances {
		if ci.Status != flotilla.InstanceActive || specLost(in, ci.ID) {
			continue
		}
		groups := in.InstanceGroups[ci.ID]
		if in.InstanceGroups == nil {
			groups = nil
			for _, t := range specTasks(in) {
				if t.InstanceID == ci.ID && t.DesiredStatus != flotilla.TaskStopped {
					groups = []string{flotilla.ServiceGroup(in.Service.Name)}
				}
			}
		}
		ok := true
		for _, c := range in.Constraints {
			if c.Type == scheduler.ConstraintMemberOf {
				q, err := scheduler.ParseQuery(c.Expression)
				ok = ok && err == nil && q.Match(&ci, groups)
			}
		}
		if ok {
			out[ci.ID] = true
		}
	}
	return out
}

func specTasks(in Input) []flotilla.Task {
	var out []flotilla.Task
	for _, t := range in.Tasks {
		if t.Group == flotilla.ServiceGroup(in.Service.Name) && strings.HasPrefix(t.StartedBy, "ecs-svc/") {
			out = append(out, t)
		}
	}
	return out
}

// checkInvariants checks what every plan must satisfy.
func checkInvariants(t *testing.T, in Input, p Plan) {
	t.Helper()
	tasks := specTasks(in)
	byID := map[string]flotilla.Task{}
	for _, tk := range tasks {
		byID[tk.ID] = tk
	}
	daemon := in.Service.SchedulingStrategy == flotilla.SchedulingDaemon
	status := in.Service.Status

	// Stops name existing tasks that are not STOPPED, once each.
	stopped := map[string]Stop{}
	for _, s := range p.Stop {
		tk, ok := byID[s.TaskID]
		switch {
		case !ok:
			t.Errorf("stop of unknown task %s", s.TaskID)
		case tk.LastStatus == flotilla.TaskStopped:
			t.Errorf("stop of STOPPED task %s", s.TaskID)
		case !s.Lost && tk.DesiredStatus != flotilla.TaskRunning:
			t.Errorf("stop of task %s already desired %s", s.TaskID, tk.DesiredStatus)
		case s.Lost != specLost(in, tk.InstanceID):
			t.Errorf("stop %+v of task on instance %q, lost = %v", s, tk.InstanceID, specLost(in, tk.InstanceID))
		case s.Reason == "" || s.StopCode != flotilla.StopServiceSchedulerInit:
			t.Errorf("stop %+v without reason or code", s)
		}
		if _, dup := stopped[s.TaskID]; dup {
			t.Errorf("task %s stopped twice", s.TaskID)
		}
		stopped[s.TaskID] = s
	}
	if status != flotilla.ServiceInactive {
		// Tasks on gone instances, and tasks on unreachable ones already
		// asked to stop, are stopped as lost. Unreachable tasks desired
		// RUNNING go only as far as healthy tasks stand in for them.
		var unreachable []flotilla.Task
		for _, tk := range tasks {
			switch {
			case tk.LastStatus == flotilla.TaskStopped:
			case specUnreachable(in, tk.InstanceID) && tk.DesiredStatus == flotilla.TaskRunning:
				unreachable = append(unreachable, tk)
			case specLost(in, tk.InstanceID) && !stopped[tk.ID].Lost:
				t.Errorf("task %s on lost instance %q not stopped as lost", tk.ID, tk.InstanceID)
			}
		}
		healthyLeft := 0
		for _, tk := range tasks {
			if _, ok := stopped[tk.ID]; !ok && specHealthy(in, tk) {
				healthyLeft++
			}
		}
		want := 0 // unreachable tasks to keep
		switch {
		case status == flotilla.ServiceDraining:
		case daemon:
			want = len(unreachable)
		default:
			want = min(len(unreachable), max(in.Service.DesiredCount-healthyLeft, 0))
		}
		kept := 0
		for _, tk := range unreachable {
			if _, ok := stopped[tk.ID]; !ok {
				kept++
			}
		}
		if kept != want {
			t.Errorf("%d unreachable tasks kept, want %d (%d healthy left, D=%d)", kept, want, healthyLeft, in.Service.DesiredCount)
		}
	}
	if status == flotilla.ServiceDraining {
		for _, tk := range tasks {
			if tk.DesiredStatus == flotilla.TaskRunning && tk.LastStatus != flotilla.TaskStopped && stopped[tk.ID].TaskID == "" {
				t.Errorf("service being deleted keeps task %s", tk.ID)
			}
		}
	}

	// Starts are for the PRIMARY deployment, never a FAILED one.
	starts, perInstance := 0, map[string]int{}
	for _, s := range p.Start {
		starts += s.Count
		d := deploymentByID(p.Service, s.DeploymentID)
		switch {
		case s.Count <= 0:
			t.Errorf("start %+v of no task", s)
		case status == flotilla.ServiceDraining || status == flotilla.ServiceInactive:
			t.Errorf("start %+v for a %s service", s, status)
		case d == nil || d.Status != flotilla.DeploymentPrimary:
			t.Errorf("start %+v for a deployment that is not PRIMARY: %+v", s, d)
		case d.RolloutState == flotilla.RolloutFailed:
			t.Errorf("start %+v for a FAILED deployment", s)
		case d.TaskDefinitionARN != s.TaskDefinitionARN:
			t.Errorf("start %+v of another task definition than %s", s, d.TaskDefinitionARN)
		}
		perInstance[s.InstanceID]++
	}
	if daemon {
		targets := specTargets(in)
		for _, s := range p.Start {
			var ci *flotilla.ContainerInstance
			for i := range in.Instances {
				if in.Instances[i].ID == s.InstanceID {
					ci = &in.Instances[i]
				}
			}
			switch {
			case s.Count != 1 || perInstance[s.InstanceID] != 1:
				t.Errorf("daemon start %+v: %d starts on the instance", s, perInstance[s.InstanceID])
			case ci == nil || !targets[ci.ID] || !ci.AgentConnected:
				t.Errorf("daemon start %+v on an ineligible instance %+v", s, ci)
			}
			for _, tk := range tasks {
				if tk.InstanceID == s.InstanceID && tk.LastStatus != flotilla.TaskStopped {
					t.Errorf("daemon start %+v on an instance with task %s %s", s, tk.ID, tk.LastStatus)
				}
			}
		}
		if status == flotilla.ServiceActive && p.Service.DesiredCount != len(targets) {
			t.Errorf("daemon desired count %d, want %d", p.Service.DesiredCount, len(targets))
		}
		// No instance ends with more tasks than it had, beyond one.
		before, after := map[string]int{}, map[string]int{}
		for _, tk := range tasks {
			if specLive(tk) {
				before[tk.InstanceID]++
				if _, ok := stopped[tk.ID]; !ok {
					after[tk.InstanceID]++
				}
			}
		}
		for id, n := range perInstance {
			after[id] += n
		}
		for id, n := range after {
			if n > max(before[id], 1) {
				t.Errorf("instance %s ends with %d tasks (had %d)", id, n, before[id])
			}
		}
	} else if len(p.Start) > 1 || len(p.Start) == 1 && p.Start[0].InstanceID != "" {
		t.Errorf("replica starts %+v", p.Start)
	}

	// The bounds of the deployment configuration.
	if status == flotilla.ServiceActive {
		d := in.Service.DesiredCount
		if daemon {
			d = p.Service.DesiredCount
		}
		minH, maxT := bounds(in.Service.DeploymentConfiguration, daemon, d)
		targets := specTargets(in)
		liveBefore, liveAfter, healthyBefore, healthyAfter := 0, starts, 0, 0
		for _, tk := range tasks {
			_, isStopped := stopped[tk.ID]
			if specLive(tk) && !specLost(in, tk.InstanceID) {
				liveBefore++
				if !isStopped {
					liveAfter++
				}
			}
			if specHealthy(in, tk) && (!daemon || targets[tk.InstanceID]) {
				healthyBefore++
				if !isStopped {
					healthyAfter++
				}
			}
		}
		if starts > 0 && liveAfter > maxT {
			t.Errorf("%d running and pending tasks after the plan, above the maximum %d (D=%d)", liveAfter, maxT, d)
		}
		if liveAfter > max(maxT, liveBefore) {
			t.Errorf("%d running and pending tasks after the plan, %d before, maximum %d", liveAfter, liveBefore, maxT)
		}
		if healthyAfter < min(healthyBefore, minH) {
			t.Errorf("%d healthy tasks after the plan, %d before, minimum %d (D=%d)", healthyAfter, healthyBefore, minH, d)
		}
		// Tasks failing their health checks are replaced within the
		// bounds: those that serve (fail-open) never go below the floor;
		// one not yet replaced (healthy and failing tasks no more than D)
		// is stopped only when its replacement could not start beside
		// it (REPLICA: maximumPercent reached once the plan's other stops are
		// done, or nothing starts), and then one at a time.
		servingBefore, servingAfter, healthyLive, failing, failingStopped := 0, 0, 0, 0, 0
		for _, tk := range tasks {
			_, isStopped := stopped[tk.ID]
			if specServing(in, tk) && (!daemon || targets[tk.InstanceID]) {
				servingBefore++
				if !isStopped {
					servingAfter++
				}
			}
			if specHealthy(in, tk) {
				healthyLive++
			}
			if specFailing(in, tk) {
				failing++
				if isStopped && strings.HasPrefix(stopped[tk.ID].Reason, "Task failed ") {
					failingStopped++
				}
			}
		}
		if servingAfter < min(servingBefore, minH) {
			t.Errorf("%d serving tasks after the plan, %d before, minimum %d (D=%d, fail-open %v)", servingAfter, servingBefore, minH, d, specFailOpen(in))
		}
		if surplus := healthyLive + failing - d; failingStopped > max(surplus, 1) {
			t.Errorf("%d failing tasks stopped, %d healthy and %d failing for D=%d", failingStopped, healthyLive, failing, d)
		} else if !daemon && failingStopped > max(surplus, 0) && starts > 0 && liveAfter-starts+failingStopped < maxT {
			t.Errorf("failing tasks stopped before their replacement (%d healthy, %d failing, D=%d) with room to start (%d live, maximum %d)",
				healthyLive, failing, d, liveAfter-starts+failingStopped, maxT)
		}
	}

	// The service reported.
	primaries := 0
	for _, dep := range p.Service.Deployments {
		if dep.Status == flotilla.DeploymentPrimary {
			primaries++
		}
		running, pending := 0, 0
		for _, tk := range tasks {
			if _, ok := stopped[tk.ID]; ok || tk.StartedBy != flotilla.DeploymentStartedBy(dep.ID) || tk.DesiredStatus != flotilla.TaskRunning {
				continue
			}
			switch {
			case tk.LastStatus == flotilla.TaskRunning:
				running++
			case flotilla.TaskStatusAfter(flotilla.TaskRunning, tk.LastStatus):
				pending++
			}
		}
		if status != flotilla.ServiceInactive && (dep.RunningCount != running || dep.PendingCount != pending) {
			t.Errorf("deployment %s counts %d/%d, want %d running, %d pending", dep.ID, dep.RunningCount, dep.PendingCount, running, pending)
		}
	}
	if primaries > 1 || primaries == 0 && findPrimary(in.Service.Deployments) >= 0 {
		t.Errorf("%d PRIMARY deployments: %+v", primaries, p.Service.Deployments)
	}
	if in.Service.Status == p.Service.Status && primaries == 1 {
		if was := primaryOf(in.Service); was != nil && inProgress(was) {
			if now := primaryOf(p.Service); now.ID == was.ID && now.RolloutState == flotilla.RolloutCompleted && len(p.Service.Deployments) != 1 {
				t.Errorf("completed deployment with others still listed: %+v", p.Service.Deployments)
			}
		}
	}
	if len(p.Service.Events) > flotilla.MaxServiceEvents {
		t.Errorf("%d events", len(p.Service.Events))
	}
	if !p.Next.IsZero() && !p.Next.After(in.Now) {
		t.Errorf("Next %v is not after now %v", p.Next, in.Now)
	}
	if p.Changed == reflect.DeepEqual(in.Service, p.Service) {
		t.Errorf("Changed = %v", p.Changed)
	}
}

// deepCopy copies a value with all it points to, so that a test can tell
// whether Reconcile changed its input.
func deepCopy[T any](t *testing.T, v T) T {
	t.Helper()
	var out T
	copyValue(reflect.ValueOf(&out).Elem(), reflect.ValueOf(v))
	return out
}

func copyValue(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if !src.IsNil() {
			dst.Set(reflect.New(src.Elem().Type()))
			copyValue(dst.Elem(), src.Elem())
		}
	case reflect.Slice:
		if !src.IsNil() {
			dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
			for i := range src.Len() {
				copyValue(dst.Index(i), src.Index(i))
			}
		}
	case reflect.Map:
		if !src.IsNil() {
			dst.Set(reflect.MakeMapWithSize(src.Type(), src.Len()))
			for it := src.MapRange(); it.Next(); {
				v := reflect.New(it.Value().Type()).Elem()
				copyValue(v, it.Value())
				dst.SetMapIndex(it.Key(), v)
			}
		}
	case reflect.Struct:
		if src.Type() == reflect.TypeFor[time.Time]() {
			dst.Set(src)
			return
		}
		for i := range src.NumField() {
			copyValue(dst.Field(i), src.Field(i))
		}
	default:
		dst.Set(src)
	}
}

var (
	genStatuses = []string{flotilla.TaskProvisioning, flotilla.TaskPending, flotilla.TaskActivating, flotilla.TaskRunning,
		flotilla.TaskRunning, flotilla.TaskRunning, flotilla.TaskDeactivating, flotilla.TaskStopping, flotilla.TaskDeprovisioning,
		flotilla.TaskStopped, flotilla.TaskStopped}
	genStopCodes = []string{flotilla.StopTaskFailedToStart, flotilla.StopEssentialContainerExited, flotilla.StopUserInitiated,
		flotilla.StopServiceSchedulerInit, flotilla.StopSpotInterruption, ""}
	genRollouts    = []string{flotilla.RolloutInProgress, flotilla.RolloutCompleted, flotilla.RolloutFailed, ""}
	genExpressions = []string{
		"attribute:ecs.availability-zone in [a, b]",
		"attribute:ecs.availability-zone != c",
		"not(task:group == service:db)",
		"task:group == service:web or attribute:ecs.availability-zone == a",
		"agentConnected == true",
	}
	genStrategies = []scheduler.Strategy{
		{Type: "spread", Field: "attribute:ecs.availability-zone"}, {Type: "spread", Field: "instanceId"},
		{Type: "spread", Field: "host"}, {Type: "binpack", Field: "cpu"}, {Type: "binpack", Field: "memory"},
		{Type: "random"}, {Type: "spread", Field: "attribute:stack"},
	}
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// genInput returns a random input: instances in every state, deployments
// in every rollout state, tasks of every deployment in every status,
// health and instance.
func genInput(rng *rand.Rand) Input {
	now := t0
	in := Input{Now: now}
	switch rng.IntN(3) {
	case 0:
		in.InstanceGracePeriod = 10 * time.Second
	case 1:
		in.InstanceGracePeriod = time.Minute
	}
	if rng.IntN(3) == 0 {
		// The server started (or regained the store) a while ago.
		in.HeardSince = now.Add(-time.Duration(rng.IntN(90)) * time.Second)
	}
	for i := range rng.IntN(7) {
		ci := instance(fmt.Sprintf("i%d", i), pick(rng, []string{"a", "b", "c"}))
		switch rng.IntN(20) {
		case 0, 1:
			ci.Status = flotilla.InstanceDraining
		case 2:
			ci.Status = flotilla.InstanceInactive
		case 3:
			ci.Status = flotilla.InstanceRegistering
		case 4:
			ci.Status = flotilla.InstanceDeregistering
		}
		if rng.IntN(6) == 0 {
			ci.AgentConnected = false
			if rng.IntN(8) > 0 {
				ci.DisconnectedAt = now.Add(-time.Duration(rng.IntN(90)) * time.Second)
			}
		}
		if rng.IntN(3) == 0 {
			v := pick(rng, []string{"blue", "green"})
			ci.Attributes = append(ci.Attributes, flotilla.Attribute{Name: "stack", Value: &v})
		}
		ci.RemainingResources[0].IntegerValue = int32(rng.IntN(4096))
		ci.RemainingResources[1].IntegerValue = int32(rng.IntN(8192))
		in.Instances = append(in.Instances, ci)
	}
	daemon := rng.IntN(4) == 0
	minPct := pick(rng, []int{0, 0, 25, 50, 50, 75, 100, 100})
	maxPct := pick(rng, []int{100, 100, 125, 150, 200, 200})
	var deps []flotilla.Deployment
	n := 1 + rng.IntN(3)
	for i := range n {
		status := flotilla.DeploymentActive
		if i == n-1 && rng.IntN(20) > 0 {
			status = flotilla.DeploymentPrimary
		}
		d := deployment(fmt.Sprintf("d%d", i), status, fmt.Sprintf("%s%d", td1[:len(td1)-1], i+1), pick(rng, genRollouts), 60-i*10)
		d.FailedTasks = rng.IntN(4)
		if rng.IntN(5) == 0 {
			d.RolloutStateReason = reasonRollingBack + "ecs-svc/d0."
		}
		deps = append(deps, d)
	}
	slices.Reverse(deps)
	in.Service = newService(rng.IntN(9), minPct, maxPct, deps...)
	if daemon {
		in.Service.SchedulingStrategy = flotilla.SchedulingDaemon
		for range rng.IntN(3) {
			in.Constraints = append(in.Constraints, scheduler.Constraint{Type: "memberOf", Expression: pick(rng, genExpressions)})
		}
		if rng.IntN(3) == 0 {
			in.InstanceGroups = map[string][]string{}
			for _, ci := range in.Instances {
				if rng.IntN(2) == 0 {
					in.InstanceGroups[ci.ID] = []string{pick(rng, []string{"service:db", "service:web", "family:batch"})}
				}
			}
		}
	} else {
		for range rng.IntN(3) {
			in.Strategies = append(in.Strategies, pick(rng, genStrategies))
		}
	}
	in.Service.DeploymentConfiguration.CircuitBreaker = flotilla.CircuitBreaker{Enable: rng.IntN(2) == 0, Rollback: rng.IntN(2) == 0}
	in.Service.HealthCheckGracePeriodSeconds = pick(rng, []int{0, 30, 120})
	switch rng.IntN(30) {
	case 0:
		in.Service.Status = flotilla.ServiceDraining
	case 1:
		in.Service.Status = flotilla.ServiceInactive
	}
	for i := range rng.IntN(4) {
		in.Service.Events = append(in.Service.Events, flotilla.ServiceEvent{ID: fmt.Sprint("e", i), CreatedAt: now.Add(-time.Hour),
			Message: pick(rng, []string{"(service web) has reached a steady state.", "(service web) has started 1 tasks: (task x)."})})
	}

	instIDs := []string{"", "gone"}
	for _, ci := range in.Instances {
		instIDs = append(instIDs, ci.ID, ci.ID)
	}
	for i := range rng.IntN(15) {
		dep := ""
		if rng.IntN(10) > 0 {
			dep = pick(rng, deps).ID
		}
		inst := pick(rng, instIDs)
		if inst == "" && rng.IntN(4) > 0 && len(in.Instances) > 0 {
			inst = pick(rng, in.Instances).ID
		}
		tk := newTask(fmt.Sprintf("t%02d", i), dep, inst, pick(rng, genStatuses),
			createdAt(now.Add(-time.Duration(rng.IntN(600))*time.Second)))
		switch {
		case dep == "" && rng.IntN(2) == 0:
			tk.StartedBy = pick(rng, []string{"", "someone"})
		case dep == "":
			tk.StartedBy = flotilla.DeploymentStartedBy("dropped")
		}
		if tk.LastStatus == flotilla.TaskRunning || flotilla.TaskStatusAfter(tk.LastStatus, flotilla.TaskRunning) {
			tk.StartedAt = now.Add(-time.Duration(rng.IntN(300)) * time.Second)
			if flotilla.TaskStatusAfter(tk.LastStatus, flotilla.TaskRunning) && rng.IntN(3) == 0 {
				tk.StartedAt = time.Time{}
			}
		}
		switch {
		case flotilla.TaskStatusAfter(tk.LastStatus, flotilla.TaskRunning) && rng.IntN(8) == 0:
			tk.DesiredStatus = flotilla.TaskRunning
		case !flotilla.TaskStatusAfter(tk.LastStatus, flotilla.TaskRunning) && rng.IntN(7) == 0:
			tk.DesiredStatus = flotilla.TaskStopped
		}
		if tk.DesiredStatus == flotilla.TaskStopped {
			tk.StopCode = pick(rng, genStopCodes)
			tk.StoppingAt = now.Add(-time.Duration(rng.IntN(100)) * time.Second)
			if rng.IntN(4) == 0 {
				tk.StoppedReason = ReasonUnhealthy
			}
		}
		if tk.LastStatus == flotilla.TaskStopped {
			tk.StoppedAt = tk.StoppingAt
		}
		if rng.IntN(5) < 2 {
			health(pick(rng, []string{flotilla.HealthHealthy, flotilla.HealthHealthy, flotilla.HealthUnhealthy, flotilla.HealthUnknown}))(&tk)
		}
		if rng.IntN(20) == 0 {
			tk.Group = "service:other"
		}
		in.Tasks = append(in.Tasks, tk)
	}
	// Load balancers: random target health, or every target unhealthy
	// (fail-open).
	if rng.IntN(3) == 0 {
		in.LoadBalanced = true
		in.TargetHealth = map[string]TargetHealth{}
		allUnhealthy := rng.IntN(3) == 0
		for _, tk := range in.Tasks {
			st := pick(rng, []string{"", lb.StateInitial, lb.StateHealthy, lb.StateHealthy, lb.StateUnhealthy})
			if allUnhealthy {
				st = lb.StateUnhealthy
			}
			if st != "" {
				in.TargetHealth[tk.ID] = TargetHealth{State: st, Group: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1"}
			}
		}
	}
	return in
}

// TestReconcileProperties checks the invariants on many random inputs,
// and that Reconcile is pure: it leaves its input alone, and the same input
// in any order gives the same plan.
func TestReconcileProperties(t *testing.T) {
	const runs = 4000
	for seed := range uint64(runs) {
		rng := newRand(seed)
		in := genInput(rng)
		before := deepCopy(t, in)
		p := Reconcile(in)
		ok := t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			checkInvariants(t, in, p)
			if !reflect.DeepEqual(in, before) {
				t.Fatal("Reconcile changed its input")
			}
			shuffled := deepCopy(t, in)
			rng.Shuffle(len(shuffled.Tasks), func(i, j int) { shuffled.Tasks[i], shuffled.Tasks[j] = shuffled.Tasks[j], shuffled.Tasks[i] })
			rng.Shuffle(len(shuffled.Instances), func(i, j int) {
				shuffled.Instances[i], shuffled.Instances[j] = shuffled.Instances[j], shuffled.Instances[i]
			})
			if p2 := Reconcile(shuffled); !reflect.DeepEqual(p, p2) {
				t.Errorf("same input, another plan:\n%+v\n%+v", p, p2)
			}
		})
		if !ok {
			t.Logf("input: %+v", in)
			break
		}
	}
}
