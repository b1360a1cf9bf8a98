package flotilla

import (
	"slices"
	"time"
)

// This file holds a task's lifecycle rules: how a stop request, an agent's
// report and a health report change a task, and how a task's move along
// the lifecycle changes its instance's counts and reservations. The API
// layer decodes the request, calls these and stores the result in one
// transaction.

// RequestStop sets the task's desired status to STOPPED, once, with the
// stop code and reason; later requests leave the first one in place. A
// RUNNING task with load balancer targets goes to DEACTIVATING: its agent
// keeps it running while its targets drain, and the service controller
// moves it on to STOPPING (FinishDeactivation).
func (t *Task) RequestStop(code, reason string, now time.Time) {
	if t.DesiredStatus == TaskStopped {
		return
	}
	t.DesiredStatus = TaskStopped
	t.StopCode, t.StoppedReason = code, reason
	t.StoppingAt = now.UTC()
	if len(t.Targets) > 0 && t.LastStatus == TaskRunning {
		t.LastStatus = TaskDeactivating
	}
}

// Advance moves the task's last status forward to status (never back) and
// stamps the lifecycle times. A task that reaches a stopping state without
// having been asked to stop stops on its own: EssentialContainerExited, or
// TaskFailedToStart if it never ran, with reason (or ECS's default one).
// At STOPPED every container is STOPPED and the task's health is UNKNOWN.
func (t *Task) Advance(status, reason string, now time.Time) {
	if !TaskStatusAfter(status, t.LastStatus) {
		return
	}
	now = now.UTC()
	t.LastStatus = status
	if status == TaskRunning {
		t.StartedAt = now
	}
	if TaskStatusAfter(status, TaskRunning) {
		if t.DesiredStatus != TaskStopped {
			code := StopEssentialContainerExited
			if t.StartedAt.IsZero() {
				code = StopTaskFailedToStart
			}
			if reason == "" {
				reason = "Essential container in task exited"
			}
			t.RequestStop(code, reason, now)
		}
		if t.StoppingAt.IsZero() {
			t.StoppingAt = now
		}
	}
	if status == TaskStopped {
		t.StoppedAt = now
		if t.ExecutionStoppedAt.IsZero() {
			t.ExecutionStoppedAt = now
		}
		for i := range t.Containers {
			t.Containers[i].LastStatus = ContainerStopped
		}
		t.HealthStatus = HealthUnknown
	}
}

// StopLost stops a task whose agent is gone and will not report it: it is
// asked to stop with code and reason, marked STOPPED at once, and each of
// its containers without a reason of its own gets reason.
func (t *Task) StopLost(code, reason string, now time.Time) {
	t.RequestStop(code, reason, now)
	t.Advance(TaskStopped, reason, now)
	for i := range t.Containers {
		if t.Containers[i].Reason == "" {
			t.Containers[i].Reason = reason
		}
	}
}

// AgentDesiredStatus is the status the task's agent is to bring it to: its
// desired status, except that a DEACTIVATING task keeps running while its
// load balancer targets drain.
func (t *Task) AgentDesiredStatus() string {
	if t.LastStatus == TaskDeactivating {
		return TaskRunning
	}
	return t.DesiredStatus
}

// FinishDeactivation moves a DEACTIVATING task, whose targets have drained,
// on to STOPPING; a task in any other status is left alone.
func (t *Task) FinishDeactivation() {
	if t.LastStatus == TaskDeactivating {
		t.LastStatus = TaskStopping
	}
}

// TaskStateChange is what an agent reports of a task: its status (empty
// for none), the reason, the times it saw (zero for none) and its
// containers' changes.
type TaskStateChange struct {
	Status             string
	Reason             string
	PullStartedAt      time.Time
	PullStoppedAt      time.Time
	ExecutionStoppedAt time.Time
	Containers         []ContainerStateChange
}

// ContainerStateChange is what an agent reports of one container of a
// task: empty and nil fields say nothing.
type ContainerStateChange struct {
	Name            string
	RuntimeID       string
	Status          string
	ExitCode        *int
	Reason          string
	NetworkBindings []NetworkBinding
}

// ApplyStateChange records an agent's report: the containers' changes,
// the pull and execution-stopped times the first time they are reported,
// and then the status, only forward (Advance).
func (t *Task) ApplyStateChange(ch TaskStateChange, now time.Time) {
	for _, c := range ch.Containers {
		t.ApplyContainerChange(c)
	}
	if !ch.PullStartedAt.IsZero() && t.PullStartedAt.IsZero() {
		t.PullStartedAt = ch.PullStartedAt
	}
	if !ch.PullStoppedAt.IsZero() && t.PullStoppedAt.IsZero() {
		t.PullStoppedAt = ch.PullStoppedAt
	}
	if !ch.ExecutionStoppedAt.IsZero() && t.ExecutionStoppedAt.IsZero() {
		t.ExecutionStoppedAt = ch.ExecutionStoppedAt
	}
	if ch.Status != "" {
		t.Advance(ch.Status, ch.Reason, now)
	}
}

var containerOrder = map[string]int{ContainerPending: 1, ContainerRunning: 2, ContainerStopped: 3}

// ApplyContainerChange records an agent's report of the named container:
// its runtime id, its status (only forward: PENDING, RUNNING, STOPPED), its
// exit code, reason and network bindings, each when reported. A STOPPED
// container's health is UNKNOWN. A name that is not one of the task's
// containers changes nothing.
func (t *Task) ApplyContainerChange(ch ContainerStateChange) {
	for i := range t.Containers {
		c := &t.Containers[i]
		if c.Name != ch.Name {
			continue
		}
		if ch.RuntimeID != "" {
			c.RuntimeID = ch.RuntimeID
		}
		if containerOrder[ch.Status] > containerOrder[c.LastStatus] {
			c.LastStatus = ch.Status
		}
		if ch.ExitCode != nil {
			v := *ch.ExitCode
			c.ExitCode = &v
		}
		if ch.Reason != "" {
			c.Reason = ch.Reason
		}
		if len(ch.NetworkBindings) > 0 {
			c.NetworkBindings = append([]NetworkBinding(nil), ch.NetworkBindings...)
		}
		if c.LastStatus == ContainerStopped {
			c.HealthStatus = HealthUnknown
		}
		return
	}
}

// SetContainerHealth records the health an agent reports of the task's
// containers, by name (a STOPPED container keeps UNKNOWN), and derives the
// task's (Health).
func (t *Task) SetContainerHealth(health map[string]string) {
	for i := range t.Containers {
		if h, ok := health[t.Containers[i].Name]; ok && t.Containers[i].LastStatus != ContainerStopped {
			t.Containers[i].HealthStatus = h
		}
	}
	t.HealthStatus = t.Health()
}

// Health derives a task's health from its containers', as ECS does:
// UNHEALTHY if an essential container is, HEALTHY if every essential
// container with a health check is, otherwise (and once STOPPED) UNKNOWN.
func (t *Task) Health() string {
	if t.LastStatus == TaskStopped {
		return HealthUnknown
	}
	status, checked := HealthHealthy, false
	for _, c := range t.Containers {
		if !c.Essential || c.HealthStatus == "" {
			continue
		}
		checked = true
		switch c.HealthStatus {
		case HealthUnhealthy:
			return HealthUnhealthy
		case HealthUnknown:
			status = HealthUnknown
		}
	}
	if !checked {
		return HealthUnknown
	}
	return status
}

// taskCountBucket says which of an instance's counts a task in status st
// is in: 0 pending, 1 running (RUNNING and the stopping states), 2 none
// (STOPPED, its reservation released).
func taskCountBucket(st string) int {
	switch {
	case st == TaskStopped:
		return 2
	case TaskStatusAfter(st, TaskActivating):
		return 1
	default:
		return 0
	}
}

// Reaccount recomputes the instance's remaining resources and its pending
// and running counts from the tasks placed on it (those of tasks with
// another InstanceID are ignored) that are not STOPPED.
func (ci *ContainerInstance) Reaccount(tasks []Task) {
	ci.RemainingResources = slices.Clone(ci.RegisteredResources)
	for i := range ci.RemainingResources {
		ci.RemainingResources[i].StringSetValue = slices.Clone(ci.RemainingResources[i].StringSetValue)
	}
	ci.PendingTasksCount, ci.RunningTasksCount = 0, 0
	for i := range tasks {
		t := &tasks[i]
		if t.InstanceID != ci.ID {
			continue
		}
		switch taskCountBucket(t.LastStatus) {
		case 0:
			ci.Reserve(t.Reservation)
			ci.PendingTasksCount++
		case 1:
			ci.Reserve(t.Reservation)
			ci.RunningTasksCount++
		}
	}
}

// MoveTask updates the instance's pending and running counts for task t,
// whose last status was before, and releases t's reservation when t has
// just stopped. Counts never go below zero.
func (ci *ContainerInstance) MoveTask(before string, t *Task) {
	from, to := taskCountBucket(before), taskCountBucket(t.LastStatus)
	if from == to {
		return
	}
	switch from {
	case 0:
		ci.PendingTasksCount--
	case 1:
		ci.RunningTasksCount--
	}
	switch to {
	case 0:
		ci.PendingTasksCount++
	case 1:
		ci.RunningTasksCount++
	case 2:
		ci.Release(t.Reservation)
	}
	ci.PendingTasksCount = max(ci.PendingTasksCount, 0)
	ci.RunningTasksCount = max(ci.RunningTasksCount, 0)
}
