package service

import (
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/scheduler"
)

// DefaultInstanceGracePeriod is how long an instance's agent may stay
// disconnected before its tasks count as lost, when Input leaves it zero.
const DefaultInstanceGracePeriod = 30 * time.Second

// Input is what Reconcile decides from: one consistent reading of the
// store.
type Input struct {
	// Service is the service as stored, its deployments newest first or in
	// any order (the PRIMARY one is the one with that status).
	Service flotilla.Service
	// Tasks are the service's tasks in any status, STOPPED ones still
	// retained included: they are the memory of the circuit breaker and
	// the throttle. A service's task has Group "service:<name>" and
	// StartedBy "ecs-svc/<deployment id>"; other tasks are ignored. A task
	// of a deployment the service no longer lists counts as an older
	// deployment's. Task IDs are unique.
	Tasks []flotilla.Task
	// Instances are the cluster's container instances. A task whose
	// instance is not among them counts as lost.
	Instances []flotilla.ContainerInstance
	// HeardSince is when the server could first have heard from agents:
	// when it started, or when it last regained the store. An agent's
	// absence counts from the later of its DisconnectedAt and HeardSince,
	// so a server that was down (or cut off) for longer than the grace
	// period does not count its own absence against the agents.
	HeardSince time.Time
	// InstanceGroups optionally maps an instance ID to the groups of all
	// its tasks whose desired status is not STOPPED, as
	// scheduler.GroupsByInstance returns them for the whole cluster; it
	// answers task:group in a DAEMON service's memberOf expressions. When
	// nil, only this service's tasks are known.
	InstanceGroups map[string][]string
	// Now is the time of the decision.
	Now time.Time
	// InstanceGracePeriod is how long an instance's agent may stay
	// disconnected (since its DisconnectedAt) before the tasks on it count
	// as lost; DefaultInstanceGracePeriod when zero.
	InstanceGracePeriod time.Duration
	// Constraints are the service's placement constraints, already
	// validated. Reconcile uses the memberOf ones to choose a DAEMON
	// service's instances.
	Constraints []scheduler.Constraint
	// LoadBalanced is set when the service has load balancers: a task is
	// then healthy only once its targets are healthy in every target group
	// (TargetHealth).
	LoadBalanced bool
	// TargetHealth is the health of each running task's load balancer
	// targets, by task ID; a task missing from it counts as initial.
	TargetHealth map[string]TargetHealth
	// Strategies are the service's placement strategy, already validated;
	// scheduler.DefaultServiceStrategies when empty. Reconcile uses them
	// to choose which tasks to stop when it scales in.
	Strategies []scheduler.Strategy
}

// TargetHealth is how a task's load balancer targets stand, taken together,
// in ELBv2's words (lb.StateHealthy, ...): State is healthy when every
// target is, unhealthy when one is (Group is then its target group's ARN),
// and initial otherwise.
type TargetHealth struct {
	State string
	Group string
}

// Start asks the controller to start Count tasks of a deployment.
type Start struct {
	// DeploymentID is the deployment the tasks belong to: they carry
	// StartedBy flotilla.DeploymentStartedBy(DeploymentID) and Group
	// flotilla.ServiceGroup(service name).
	DeploymentID      string
	TaskDefinitionARN string
	Count             int
	// InstanceID, for a DAEMON service, is the instance to start the task
	// on (Count is then 1); empty for REPLICA, whose tasks go where the
	// scheduler places them.
	InstanceID string
}

// Stop asks the controller to stop a task.
type Stop struct {
	TaskID   string
	Reason   string // the task's stoppedReason
	StopCode string // the task's stopCode: flotilla.StopServiceSchedulerInit
	// Lost is set for a task whose instance is lost (agent disconnected
	// beyond the grace period, or instance deregistered): nobody will
	// report it stopped, so the controller marks it STOPPED itself and
	// releases its reservation.
	Lost bool
}

// Plan is what Reconcile decides.
type Plan struct {
	// Start lists tasks to start: at most one entry per deployment for a
	// REPLICA service, one entry per instance for a DAEMON service.
	Start []Start
	// Stop lists tasks to stop, each a task of Input.Tasks that is not
	// STOPPED, at most once, ordered by task ID.
	Stop []Stop
	// Service is the service with its deployments' counts, statuses and
	// rollout states brought up to date and new events first (capped at
	// flotilla.MaxServiceEvents). For a DAEMON service, DesiredCount is the
	// number of instances it should run on.
	Service flotilla.Service
	// Changed reports whether Service differs from Input.Service.
	Changed bool
	// Next, when not zero, is the latest time to reconcile the service
	// again even if nothing changes: the end of a health check grace
	// period, of an instance's grace period, or of a launch throttle.
	Next time.Time
}

// where says how a task's instance stands.
type where int

const (
	onNone         where = iota // the task names no instance
	onActive                    // ACTIVE (or REGISTERING) with its agent connected
	onDisconnected              // agent disconnected, within the grace period
	onDraining                  // DRAINING or DEREGISTERING, not lost
	onLost                      // agent disconnected beyond the grace period (unreachable)
	onGone                      // instance INACTIVE or unknown
)

// lost reports whether the task's instance is out of the control plane's
// sight: unreachable beyond the grace period, or gone.
func (w where) lost() bool { return w == onLost || w == onGone }

// task is one of the service's tasks as this reconcile sees it.
type task struct {
	*flotilla.Task
	dep     string // the deployment's ID, from StartedBy
	inst    *flotilla.ContainerInstance
	loc     where
	lb      TargetHealth // its targets' health; State empty when the service has no load balancer
	stopped bool         // this plan stops it
	lost    bool         // this plan stops it as lost
	failing bool         // failed its health checks after its grace period: to be replaced
}

// run is one Reconcile call under way.
type run struct {
	in    Input
	now   time.Time
	grace time.Duration

	svc     flotilla.Service // the output, a copy of in.Service
	tasks   []*task          // the service's tasks by ID
	insts   map[string]*flotilla.ContainerInstance
	primary int // index of the PRIMARY deployment in svc.Deployments, -1 when none

	d         int // the desired count: the service's, or the number of DAEMON targets
	targets   []*flotilla.ContainerInstance
	throttled bool // the PRIMARY deployment may not start tasks yet
	failOpen  bool // the load balancers route to unhealthy targets: none is healthy

	starts []Start
	stops  []Stop
	events []string // oldest first
	next   time.Time
}

// Reconcile decides what the service scheduler does next for one service.
// It is a pure function of its input: the same Input gives the same Plan,
// whatever the order of Input.Tasks and Input.Instances.
func Reconcile(in Input) Plan {
	r := newRun(in)
	r.decide()
	r.finish()
	p := Plan{Start: r.starts, Stop: r.stops, Service: r.svc, Next: r.next}
	slices.SortFunc(p.Stop, func(a, b Stop) int { return strings.Compare(a.TaskID, b.TaskID) })
	p.Changed = !reflect.DeepEqual(in.Service, p.Service)
	return p
}

func newRun(in Input) *run {
	r := &run{in: in, now: in.Now, grace: in.InstanceGracePeriod, svc: cloneService(in.Service),
		insts: map[string]*flotilla.ContainerInstance{}, primary: -1}
	if r.grace <= 0 {
		r.grace = DefaultInstanceGracePeriod
	}
	for i := range in.Instances {
		r.insts[in.Instances[i].ID] = &in.Instances[i]
	}
	group := flotilla.ServiceGroup(in.Service.Name)
	for i := range in.Tasks {
		t := &in.Tasks[i]
		dep, ok := strings.CutPrefix(t.StartedBy, flotilla.DeploymentStartedBy(""))
		if t.Group != group || !ok {
			continue
		}
		ti := &task{Task: t, dep: dep}
		if in.LoadBalanced {
			ti.lb = in.TargetHealth[t.ID]
			if ti.lb.State == "" {
				ti.lb.State = lb.StateInitial
			}
		}
		ti.inst, ti.loc = r.locate(t.InstanceID)
		r.tasks = append(r.tasks, ti)
	}
	slices.SortStableFunc(r.tasks, func(a, b *task) int { return strings.Compare(a.ID, b.ID) })
	r.tasks = slices.CompactFunc(r.tasks, func(a, b *task) bool { return a.ID == b.ID })
	r.primary = findPrimary(r.svc.Deployments)
	r.failOpen = r.findFailOpen()
	return r
}

func cloneService(s flotilla.Service) flotilla.Service {
	s.Deployments = slices.Clone(s.Deployments)
	s.Events = slices.Clone(s.Events)
	return s
}

// locate says how the instance with the given ID stands.
func (r *run) locate(id string) (*flotilla.ContainerInstance, where) {
	if id == "" {
		return nil, onNone
	}
	ci, ok := r.insts[id]
	switch {
	case !ok || ci.Status == flotilla.InstanceInactive:
		return ci, onGone
	case !ci.AgentConnected && !ci.DisconnectedAt.IsZero() && !r.now.Before(r.graceEnd(ci)):
		return ci, onLost
	case ci.Status == flotilla.InstanceDraining || ci.Status == flotilla.InstanceDeregistering:
		return ci, onDraining
	case !ci.AgentConnected:
		return ci, onDisconnected
	}
	return ci, onActive
}

// graceEnd is when a disconnected instance's grace period ends: the grace
// period after the later of its DisconnectedAt and Input.HeardSince.
func (r *run) graceEnd(ci *flotilla.ContainerInstance) time.Time {
	return later(ci.DisconnectedAt, r.in.HeardSince).Add(r.grace)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// decide fills the plan's starts and stops.
func (r *run) decide() {
	switch r.svc.Status {
	case flotilla.ServiceInactive:
		return
	case flotilla.ServiceDraining:
		r.stopGone()
		r.stopUnreachable()
		r.drainService()
		return
	}
	r.stopGone()
	daemon := r.svc.SchedulingStrategy == flotilla.SchedulingDaemon
	if daemon {
		r.targets = r.daemonTargets()
		r.d = len(r.targets)
	} else {
		r.d = max(r.svc.DesiredCount, 0)
	}
	r.checkFailures()
	r.markFailing()
	if daemon {
		r.daemon()
	} else {
		r.replica()
	}
	r.stopUnreachable()
}

// findPrimary returns the index of the PRIMARY deployment (the newest if
// several claim it), or -1.
func findPrimary(ds []flotilla.Deployment) int {
	p := -1
	for i, d := range ds {
		if d.Status == flotilla.DeploymentPrimary && (p < 0 || d.CreatedAt.After(ds[p].CreatedAt)) {
			p = i
		}
	}
	return p
}

func (r *run) primaryDeployment() *flotilla.Deployment {
	if r.primary < 0 {
		return nil
	}
	return &r.svc.Deployments[r.primary]
}

// canStart reports whether the PRIMARY deployment may start tasks now.
func (r *run) canStart() bool {
	p := r.primaryDeployment()
	return p != nil && p.RolloutState != flotilla.RolloutFailed && p.TaskDefinitionARN != "" && !r.throttled
}

// stop adds a task to the plan's stops.
func (r *run) stop(t *task, reason string, lost bool) {
	if t.stopped {
		return
	}
	t.stopped, t.lost = true, lost
	r.stops = append(r.stops, Stop{TaskID: t.ID, Reason: reason, StopCode: flotilla.StopServiceSchedulerInit, Lost: lost})
}

// wake asks for a reconcile no later than at.
func (r *run) wake(at time.Time) {
	if at.After(r.now) && (r.next.IsZero() || at.Before(r.next)) {
		r.next = at
	}
}

// stopGone stops, as lost, every task not yet STOPPED on a gone instance
// (deregistered or unknown: nothing will report it stopped), and every task
// on an unreachable instance that was asked to stop already (it no longer
// counts). It asks to be woken when a disconnected instance's grace period
// ends.
func (r *run) stopGone() {
	for _, t := range r.tasks {
		if t.LastStatus == flotilla.TaskStopped {
			continue
		}
		switch t.loc {
		case onGone:
			r.stop(t, ReasonInstanceGone, true)
		case onLost:
			if t.DesiredStatus != flotilla.TaskRunning {
				r.stop(t, ReasonAgentLost, true)
			}
		case onDisconnected, onDraining:
			if ci := t.inst; !ci.AgentConnected && !ci.DisconnectedAt.IsZero() {
				r.wake(r.graceEnd(ci))
			}
		}
	}
}

// unreachable reports whether the task is one the control plane lost sight
// of: desired RUNNING, not STOPPED, on an instance whose agent has been
// away beyond the grace period. Its containers may well be running and
// serving; it is neither healthy nor live for the plan, and is left alone
// until stopUnreachable decides.
func (t *task) unreachable() bool {
	return t.loc == onLost && t.DesiredStatus == flotilla.TaskRunning && t.LastStatus != flotilla.TaskStopped
}

// stopUnreachable stops, as lost, the unreachable tasks that the service no
// longer needs, once the rest of the plan is decided. A REPLICA service
// keeps as many of them as it takes, with its healthy tasks that the plan
// does not stop, to make its desired count: an unreachable task goes only
// once a healthy replacement stands in for it, so losing sight of an agent
// never removes capacity that may still be serving. A DAEMON service
// keeps them while their instance is registered (nothing can replace them
// elsewhere); a DRAINING service (being deleted) needs none of them.
// Unreachable tasks go in task ID order.
func (r *run) stopUnreachable() {
	var lost []*task
	for _, t := range r.tasks {
		if !t.stopped && t.unreachable() {
			lost = append(lost, t)
		}
	}
	if len(lost) == 0 {
		return
	}
	n := len(lost) // how many go
	switch {
	case r.svc.Status == flotilla.ServiceDraining:
	case r.svc.SchedulingStrategy == flotilla.SchedulingDaemon:
		n = 0
	default:
		healthy := 0
		for _, t := range r.tasks {
			if !t.stopped && t.healthy() {
				healthy++
			}
		}
		n = min(n, max(healthy+len(lost)-r.d, 0))
	}
	for _, t := range lost[:n] {
		r.stop(t, ReasonAgentLost, true)
	}
}

// drainService stops every task of a service being deleted.
func (r *run) drainService() {
	for _, t := range r.tasks {
		if t.DesiredStatus == flotilla.TaskRunning && t.LastStatus != flotilla.TaskStopped {
			r.stop(t, r.scalingReason(t), false)
		}
	}
}

// scalingReason is the stoppedReason of a task the scheduler stops to
// scale its deployment in, in ECS's words.
func (r *run) scalingReason(t *task) string {
	dep := t.dep
	if dep == "" {
		if p := r.primaryDeployment(); p != nil {
			dep = p.ID
		}
	}
	return "Scaling activity initiated by (deployment " + flotilla.DeploymentStartedBy(dep) + ")"
}

// bounds returns the fewest healthy tasks and the most running and pending
// tasks that a deployment configuration allows for d desired tasks:
// ceil(min% × d / 100) and floor(max% × d / 100).
func bounds(c flotilla.DeploymentConfiguration, daemon bool, d int) (minHealthy, maxTotal int) {
	maxPct := c.MaximumPercent
	if maxPct <= 0 {
		strategy := flotilla.SchedulingReplica
		if daemon {
			strategy = flotilla.SchedulingDaemon
		}
		maxPct = flotilla.DefaultDeploymentConfiguration(strategy).MaximumPercent
	}
	minPct := max(c.MinimumHealthyPercent, 0)
	return (minPct*d + 99) / 100, maxPct * d / 100
}

// liveTasks returns the tasks this plan does not stop that are running or
// pending (desired status RUNNING, last status RUNNING or before), but not
// unreachable: what the plan can count on and act upon.
func (r *run) liveTasks() []*task {
	var out []*task
	for _, t := range r.tasks {
		if !t.stopped && t.live() && !t.unreachable() {
			out = append(out, t)
		}
	}
	return out
}
