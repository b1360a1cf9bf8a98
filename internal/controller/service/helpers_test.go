package service

import (
	"fmt"
	"time"

	"github.com/flotilla/flotilla"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	svcName = "web"
	td1     = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
	td2     = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
)

// newService returns an ACTIVE REPLICA service of desired tasks with the
// given percents and deployments.
func newService(desired, minPct, maxPct int, deps ...flotilla.Deployment) flotilla.Service {
	s := flotilla.Service{
		Name: svcName, ARN: "arn:aws:ecs:us-east-1:123456789012:service/prod/" + svcName, Cluster: "prod",
		Status: flotilla.ServiceActive, SchedulingStrategy: flotilla.SchedulingReplica, DesiredCount: desired,
		DeploymentConfiguration: flotilla.DeploymentConfiguration{MinimumHealthyPercent: minPct, MaximumPercent: maxPct},
		Deployments:             deps, CreatedAt: t0.Add(-time.Hour),
	}
	for _, d := range deps {
		if d.Status == flotilla.DeploymentPrimary {
			s.TaskDefinitionARN = d.TaskDefinitionARN
		}
	}
	return s
}

// deployment returns a deployment created minutesAgo before t0.
func deployment(id, status, taskDef, rollout string, minutesAgo int) flotilla.Deployment {
	at := t0.Add(-time.Duration(minutesAgo) * time.Minute)
	return flotilla.Deployment{ID: id, Status: status, TaskDefinitionARN: taskDef, RolloutState: rollout, CreatedAt: at, UpdatedAt: at}
}

// instance returns an ACTIVE, connected instance in an availability zone.
func instance(id, az string) flotilla.ContainerInstance {
	return flotilla.ContainerInstance{
		ID: id, ARN: "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/" + id, Cluster: "prod",
		Status: flotilla.InstanceActive, AgentConnected: true,
		Attributes: []flotilla.Attribute{{Name: "ecs.availability-zone", Value: &az}},
		RemainingResources: []flotilla.Resource{
			{Name: "CPU", Type: "INTEGER", IntegerValue: 4096},
			{Name: "MEMORY", Type: "INTEGER", IntegerValue: 8192},
		},
		RegisteredAt: t0.Add(-2 * time.Hour),
	}
}

// taskOpt changes a task built by newTask.
type taskOpt func(*flotilla.Task)

// newTask returns a task of the service's deployment dep on an instance,
// with the given last status; desired RUNNING unless the last status is
// after RUNNING. A RUNNING task started a minute before t0.
func newTask(id, dep, inst, last string, opts ...taskOpt) flotilla.Task {
	t := flotilla.Task{
		ID: id, ARN: "arn:aws:ecs:us-east-1:123456789012:task/prod/" + id, Cluster: "prod",
		TaskDefinitionARN: td1, InstanceID: inst, LastStatus: last, DesiredStatus: flotilla.TaskRunning,
		Group: flotilla.ServiceGroup(svcName), StartedBy: flotilla.DeploymentStartedBy(dep),
		Containers:  []flotilla.TaskContainer{{Name: "app", Essential: true, LastStatus: flotilla.ContainerRunning}},
		Reservation: flotilla.Reservation{CPU: 256, MemoryMiB: 512},
		CreatedAt:   t0.Add(-10 * time.Minute), HealthStatus: flotilla.HealthUnknown,
	}
	if !flotilla.TaskStatusAfter(flotilla.TaskRunning, last) {
		t.StartedAt = t0.Add(-time.Minute)
	}
	if flotilla.TaskStatusAfter(last, flotilla.TaskRunning) {
		t.DesiredStatus = flotilla.TaskStopped
		t.StopCode = flotilla.StopEssentialContainerExited
	}
	for _, o := range opts {
		o(&t)
	}
	return t
}

// health makes the task's essential container health-checked with the
// given status, and the task's health that status.
func health(status string) taskOpt {
	return func(t *flotilla.Task) {
		t.Containers[0].HealthStatus = status
		t.HealthStatus = status
	}
}

func startedAt(at time.Time) taskOpt { return func(t *flotilla.Task) { t.StartedAt = at } }
func createdAt(at time.Time) taskOpt { return func(t *flotilla.Task) { t.CreatedAt = at } }
func taskDef(arn string) taskOpt     { return func(t *flotilla.Task) { t.TaskDefinitionARN = arn } }

// failedToStart makes the task one that stopped before reaching RUNNING.
func failedToStart(at time.Time) taskOpt {
	return func(t *flotilla.Task) {
		t.LastStatus, t.DesiredStatus = flotilla.TaskStopped, flotilla.TaskStopped
		t.StartedAt = time.Time{}
		t.StopCode, t.StoppedReason = flotilla.StopTaskFailedToStart, "CannotPullContainerError: pull image manifest has been retried 5 time(s)"
		t.StoppingAt, t.StoppedAt = at, at
	}
}

// desiredStopped makes the task one the scheduler asked to stop.
func desiredStopped(t *flotilla.Task) {
	t.DesiredStatus = flotilla.TaskStopped
	t.StopCode, t.StoppedReason = flotilla.StopServiceSchedulerInit, "Scaling activity initiated by (deployment ecs-svc/x)"
}

// tasksOf returns n RUNNING tasks of a deployment named prefix-i, spread
// over the instances in turn.
func tasksOf(n int, prefix, dep string, insts []string, opts ...taskOpt) []flotilla.Task {
	var ts []flotilla.Task
	for i := range n {
		ts = append(ts, newTask(fmt.Sprintf("%s-%d", prefix, i), dep, insts[i%len(insts)], flotilla.TaskRunning, opts...))
	}
	return ts
}

func stopIDs(p Plan) []string {
	var ids []string
	for _, s := range p.Stop {
		ids = append(ids, s.TaskID)
	}
	return ids
}

func messages(s flotilla.Service) []string {
	var out []string
	for _, e := range s.Events {
		out = append(out, e.Message)
	}
	return out
}

func deploymentByID(s flotilla.Service, id string) *flotilla.Deployment {
	for i := range s.Deployments {
		if s.Deployments[i].ID == id {
			return &s.Deployments[i]
		}
	}
	return nil
}

func primaryOf(s flotilla.Service) *flotilla.Deployment {
	if i := findPrimary(s.Deployments); i >= 0 {
		return &s.Deployments[i]
	}
	return nil
}
