package service

import (
	"fmt"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
)

func crashService(now time.Time) flotilla.Service {
	return flotilla.Service{Name: "web", Cluster: "c", Status: flotilla.ServiceActive, SchedulingStrategy: flotilla.SchedulingReplica,
		DesiredCount: 2, TaskDefinitionARN: "td:2",
		DeploymentConfiguration: flotilla.DeploymentConfiguration{MinimumHealthyPercent: 100, MaximumPercent: 200,
			CircuitBreaker: flotilla.CircuitBreaker{Enable: true, Rollback: true}},
		Deployments: []flotilla.Deployment{
			{ID: "new", Status: flotilla.DeploymentPrimary, TaskDefinitionARN: "td:2", DesiredCount: 2, RolloutState: flotilla.RolloutInProgress, CreatedAt: now.Add(-time.Minute)},
			{ID: "old", Status: flotilla.DeploymentActive, TaskDefinitionARN: "td:1", DesiredCount: 2, RolloutState: flotilla.RolloutCompleted, CreatedAt: now.Add(-time.Hour)},
		}}
}

func stabilityInstance(id string) flotilla.ContainerInstance {
	az := "us-east-1a"
	return flotilla.ContainerInstance{ID: id, Status: flotilla.InstanceActive, AgentConnected: true,
		Attributes: []flotilla.Attribute{{Name: "ecs.availability-zone", Value: &az}}}
}

func svcTask(id, dep, td string, created time.Time) flotilla.Task {
	return flotilla.Task{ID: id, InstanceID: "i1", Group: "service:web", StartedBy: "ecs-svc/" + dep, TaskDefinitionARN: td,
		DesiredStatus: flotilla.TaskRunning, LastStatus: flotilla.TaskRunning, HealthStatus: flotilla.HealthUnknown,
		CreatedAt: created, StartedAt: created.Add(time.Second)}
}

// TestCrashesTripTheBreaker: tasks that reach RUNNING and then crash
// (EssentialContainerExited) count as failures, so a crashing revision rolls
// back.
func TestCrashesTripTheBreaker(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tasks := []flotilla.Task{svcTask("o1", "old", "td:1", now.Add(-time.Hour)), svcTask("o2", "old", "td:1", now.Add(-time.Hour))}
	for i := 0; i < 3; i++ {
		ct := svcTask(fmt.Sprintf("n%d", i), "new", "td:2", now.Add(-time.Duration(30-i)*time.Second))
		ct.DesiredStatus, ct.LastStatus = flotilla.TaskStopped, flotilla.TaskStopped
		ct.StopCode, ct.StoppedAt = flotilla.StopEssentialContainerExited, ct.StartedAt.Add(time.Second)
		tasks = append(tasks, ct)
	}
	plan := Reconcile(Input{Service: crashService(now), Tasks: tasks, Instances: []flotilla.ContainerInstance{stabilityInstance("i1")}, Now: now})
	var failed, rollback bool
	for _, d := range plan.Service.Deployments {
		failed = failed || (d.ID == "new" && d.RolloutState == flotilla.RolloutFailed)
		rollback = rollback || (d.Status == flotilla.DeploymentPrimary && d.TaskDefinitionARN == "td:1")
	}
	if !failed || !rollback || plan.Service.TaskDefinitionARN != "td:1" {
		t.Fatalf("three crashes of a 2-task deployment: failed=%v rollback=%v td=%s deployments=%+v", failed, rollback, plan.Service.TaskDefinitionARN, plan.Service.Deployments)
	}
}

// TestCompletionWaitsForStability: a deployment whose tasks just started is
// not complete until they have run for StableAfter.
func TestCompletionWaitsForStability(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	svc := crashService(now)
	svc.Deployments = svc.Deployments[:1]
	tasks := []flotilla.Task{svcTask("n1", "new", "td:2", now.Add(-2*time.Second)), svcTask("n2", "new", "td:2", now.Add(-2*time.Second))}
	in := Input{Service: svc, Tasks: tasks, Instances: []flotilla.ContainerInstance{stabilityInstance("i1")}, Now: now}
	plan := Reconcile(in)
	if plan.Service.Deployments[0].RolloutState != flotilla.RolloutInProgress || plan.Next.IsZero() || plan.Next.After(now.Add(StableAfter)) {
		t.Fatalf("just started: rollout %s, next %v", plan.Service.Deployments[0].RolloutState, plan.Next)
	}
	in.Now = now.Add(StableAfter)
	plan = Reconcile(in)
	if plan.Service.Deployments[0].RolloutState != flotilla.RolloutCompleted {
		t.Fatalf("after StableAfter: rollout %s", plan.Service.Deployments[0].RolloutState)
	}
}
