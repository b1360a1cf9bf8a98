package service

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/lb"
)

const tgARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"

// TestReconcileLoadBalanced checks that a service behind a load balancer
// counts a task healthy only once its targets are, rolls out at that pace,
// and replaces a task whose targets fail their health checks after the
// grace period.
func TestReconcileLoadBalanced(t *testing.T) {
	insts := []flotilla.ContainerInstance{instance("i1", "us-east-1a"), instance("i2", "us-east-1b")}
	ids := []string{"i1", "i2"}
	rolling := func() Input {
		svc := newService(2, 100, 200,
			deployment("new", flotilla.DeploymentPrimary, td2, flotilla.RolloutInProgress, 1),
			deployment("old", flotilla.DeploymentActive, td1, flotilla.RolloutCompleted, 60))
		tasks := append(tasksOf(2, "old", "old", ids), tasksOf(2, "new", "new", ids, taskDef(td2))...)
		return Input{Service: svc, Tasks: tasks, Instances: insts, Now: t0, LoadBalanced: true,
			TargetHealth: map[string]TargetHealth{"old-0": {State: lb.StateHealthy}, "old-1": {State: lb.StateHealthy}}}
	}

	t.Run("new targets initial: old tasks stay", func(t *testing.T) {
		in := rolling()
		in.TargetHealth["new-0"] = TargetHealth{State: lb.StateInitial} // new-1 has none yet
		p := Reconcile(in)
		if len(p.Stop) != 0 {
			t.Errorf("stopped %v while the new tasks' targets are not healthy; 100%% minimum must hold", stopIDs(p))
		}
		if d := deploymentByID(p.Service, "new"); d.RolloutState == flotilla.RolloutCompleted {
			t.Errorf("deployment completed with unhealthy targets")
		}
	})
	t.Run("one new target healthy: one old task goes", func(t *testing.T) {
		in := rolling()
		in.TargetHealth["new-0"] = TargetHealth{State: lb.StateHealthy}
		if p := Reconcile(in); len(p.Stop) != 1 || !strings.HasPrefix(p.Stop[0].TaskID, "old-") {
			t.Errorf("stopped %v, want exactly one old task", stopIDs(p))
		}
	})
	t.Run("all healthy: the old tasks go, then it completes", func(t *testing.T) {
		in := rolling()
		in.TargetHealth["new-0"] = TargetHealth{State: lb.StateHealthy}
		in.TargetHealth["new-1"] = TargetHealth{State: lb.StateHealthy}
		p := Reconcile(in)
		if got := stopIDs(p); !slices.Equal(got, []string{"old-0", "old-1"}) {
			t.Fatalf("stopped %v, want both old tasks", got)
		}
		in.Service = p.Service
		in.Tasks = in.Tasks[2:]
		if d := primaryOf(Reconcile(in).Service); d.RolloutState != flotilla.RolloutCompleted {
			t.Errorf("rollout %s with every target healthy, want COMPLETED", d.RolloutState)
		}
	})
	t.Run("unhealthy target replaced after the grace period", func(t *testing.T) {
		svc := newService(1, 100, 200, deployment("d", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 60))
		svc.HealthCheckGracePeriodSeconds = 120
		in := Input{Service: svc, Tasks: tasksOf(1, "t", "d", ids), Instances: insts, Now: t0, LoadBalanced: true,
			TargetHealth: map[string]TargetHealth{"t-0": {State: lb.StateUnhealthy, Group: tgARN}}}
		p := Reconcile(in) // started a minute ago: within the grace period
		if len(p.Stop) != 0 || !p.Next.Equal(t0.Add(time.Minute)) {
			t.Fatalf("within the grace period: stops %v, next %v; want none, %v", stopIDs(p), p.Next, t0.Add(time.Minute))
		}
		in.Now = t0.Add(time.Minute)
		p = Reconcile(in)
		if len(p.Stop) != 0 || len(p.Start) != 1 || p.Start[0].Count != 1 {
			t.Fatalf("after the grace period: stops %v, starts %+v; want a replacement started first", stopIDs(p), p.Start)
		}
		in.Service = p.Service
		in.Tasks = append(in.Tasks, newTask("r-0", "d", "i2", flotilla.TaskRunning, startedAt(in.Now)))
		in.TargetHealth["r-0"] = TargetHealth{State: lb.StateHealthy}
		p = Reconcile(in)
		if len(p.Stop) != 1 || p.Stop[0].TaskID != "t-0" || p.Stop[0].Reason != "Task failed ELB health checks in (target-group "+tgARN+")" {
			t.Fatalf("replacement healthy: stops %+v, want t-0 for failing ELB health checks", p.Stop)
		}
		if !strings.Contains(messages(p.Service)[0], "failed ELB health checks") {
			t.Errorf("event %q, want ELB health check failure", messages(p.Service)[0])
		}
	})
	t.Run("without load balancers target health is ignored", func(t *testing.T) {
		in := rolling()
		in.LoadBalanced = false
		if p := Reconcile(in); len(p.Stop) != 2 {
			t.Errorf("stopped %v, want both old tasks (the new ones are healthy without a load balancer)", stopIDs(p))
		}
	})
}
