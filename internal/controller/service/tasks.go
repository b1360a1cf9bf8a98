package service

import (
	"strings"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/lb"
)

// Stopped reasons of the tasks the scheduler stops, besides ECS's
// "Scaling activity initiated by (deployment ecs-svc/<id>)" for scale-in
// and rolling replacement.
const (
	ReasonUnhealthy    = "Task failed container health checks"
	ReasonDraining     = "Task stopped because its container instance is draining"
	ReasonAgentLost    = "Task stopped because the container instance agent is unreachable"
	ReasonInstanceGone = "Task stopped because its container instance was deregistered"
	ReasonIneligible   = "Task stopped because its container instance no longer satisfies the service's placement constraints"
)

// live reports whether the task counts against maximumPercent: desired
// RUNNING and last status RUNNING or before (running or pending).
func (t *task) live() bool {
	return t.DesiredStatus == flotilla.TaskRunning && !flotilla.TaskStatusAfter(t.LastStatus, flotilla.TaskRunning)
}

// running reports whether the task counts in runningCount.
func (t *task) running() bool {
	return t.DesiredStatus == flotilla.TaskRunning && t.LastStatus == flotilla.TaskRunning
}

// pending reports whether the task counts in pendingCount.
func (t *task) pending() bool {
	return t.DesiredStatus == flotilla.TaskRunning && flotilla.TaskStatusAfter(flotilla.TaskRunning, t.LastStatus)
}

// checked reports whether an essential container of the task has a health
// check: its health status is then set (UNKNOWN until the first result).
func (t *task) checked() bool {
	for _, c := range t.Containers {
		if c.Essential && c.HealthStatus != "" {
			return true
		}
	}
	return false
}

// healthy reports whether the task counts as healthy: running, on an
// instance that is not lost, HEALTHY if it is health-checked, and with
// healthy targets if the service has load balancers.
func (t *task) healthy() bool {
	return t.running() && !t.loc.lost() && (!t.checked() || t.HealthStatus == flotilla.HealthHealthy) &&
		(t.lb.State == "" || t.lb.State == lb.StateHealthy)
}

// unhealthy reports whether the task is running and failing its container
// or load balancer health checks.
func (t *task) unhealthy() bool {
	return t.running() && !t.loc.lost() &&
		(t.checked() && t.HealthStatus == flotilla.HealthUnhealthy || t.lb.State == lb.StateUnhealthy)
}

// failedToStart reports whether the task stopped, or is stopping, without
// ever having reached RUNNING, and not because someone asked it to.
func (t *task) failedToStart() bool {
	if t.DesiredStatus != flotilla.TaskStopped || !t.StartedAt.IsZero() {
		return false
	}
	switch t.StopCode {
	case flotilla.StopUserInitiated, flotilla.StopServiceSchedulerInit, flotilla.StopSpotInterruption, flotilla.StopTerminationNotice:
		return false
	}
	return true
}

// failedHealth reports whether the task was stopped for failing its
// container (or load balancer) health checks.
func (t *task) failedHealth() bool {
	return t.DesiredStatus == flotilla.TaskStopped && strings.HasPrefix(t.StoppedReason, "Task failed ") &&
		strings.Contains(t.StoppedReason, "health checks")
}

// crashed reports whether the task stopped on its own after it started: an
// essential container exited (a container that crashes right after it
// starts is the circuit breaker's canonical case).
func (t *task) crashed() bool {
	return t.DesiredStatus == flotilla.TaskStopped && t.StopCode == flotilla.StopEssentialContainerExited
}

// failed reports whether the task counts as a failure of its deployment,
// for the circuit breaker and the throttle.
func (t *task) failed() bool { return t.failedToLaunch() || t.crashed() }

// failedToLaunch reports whether the task never ran, or was stopped for
// failing its health checks: what ECS's launch throttle counts.
func (t *task) failedToLaunch() bool { return t.failedToStart() || t.failedHealth() }

// StableAfter is how long a task must have been RUNNING and healthy to show
// that its deployment works: to end a run of failures, and to complete the
// deployment. A container that crashes right after starting is RUNNING for
// a moment; it must not complete a deployment in that moment.
const StableAfter = 5 * time.Second

// stable reports whether the task has been RUNNING and healthy for
// StableAfter at now.
func (t *task) stable(now time.Time) bool {
	return t.healthy() && !t.StartedAt.IsZero() && now.Sub(t.StartedAt) >= StableAfter
}

// succeeded reports whether the task shows that its deployment's tasks can
// run: it reached RUNNING and is healthy now, or was stopped on purpose
// afterwards (scale-in, replacement, StopTask).
func (t *task) succeeded(now time.Time) bool {
	if t.StartedAt.IsZero() || t.failedHealth() || t.crashed() {
		return false
	}
	if t.healthy() {
		return t.stable(now)
	}
	return t.DesiredStatus == flotilla.TaskStopped &&
		(t.StopCode == flotilla.StopServiceSchedulerInit || t.StopCode == flotilla.StopUserInitiated)
}

// failedAt is when a failed task failed.
func (t *task) failedAt() time.Time {
	switch {
	case !t.StoppedAt.IsZero():
		return t.StoppedAt
	case !t.StoppingAt.IsZero():
		return t.StoppingAt
	}
	return t.CreatedAt
}
