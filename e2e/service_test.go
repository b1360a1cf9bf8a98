package e2e

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/flotilla/flotilla/internal/agent/docker"
)

// serviceTasks describes a service's tasks with the given desired status.
func serviceTasks(t testing.TB, c *ecs.Client, cluster, service string, desired types.DesiredStatus) []types.Task {
	t.Helper()
	arns := serviceTaskARNs(t, c, cluster, service, desired)
	if len(arns) == 0 {
		return nil
	}
	var out []types.Task
	for i := 0; i < len(arns); i += 100 {
		d, err := c.DescribeTasks(bg, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: arns[i:min(i+100, len(arns))]})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.Tasks...)
	}
	return out
}

// serviceTaskARNs lists a service's tasks with the given desired status.
func serviceTaskARNs(t testing.TB, c *ecs.Client, cluster, service string, desired types.DesiredStatus) []string {
	t.Helper()
	l, err := c.ListTasks(bg, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(service), DesiredStatus: desired, MaxResults: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	return l.TaskArns
}

// runningSample returns the service's tasks whose desired status is
// RUNNING and how many of them are RUNNING, as of one moment: a task that
// appeared between the list and the describe (a replacement that may
// already run while the task it replaces stops) has the sample taken again,
// so that a bound checked on it is never broken by the sampling alone.
func runningSample(t testing.TB, c *ecs.Client, cluster, service string) ([]types.Task, int) {
	t.Helper()
	for {
		tasks := serviceTasks(t, c, cluster, service, types.DesiredStatusRunning)
		seen := map[string]bool{}
		running := 0
		for _, task := range tasks {
			seen[aws.ToString(task.TaskArn)] = true
			if aws.ToString(task.LastStatus) == "RUNNING" {
				running++
			}
		}
		later := serviceTaskARNs(t, c, cluster, service, types.DesiredStatusRunning)
		if !slices.ContainsFunc(later, func(arn string) bool { return !seen[arn] }) {
			return tasks, running
		}
	}
}

func describeService(t testing.TB, c *ecs.Client, cluster, name string) types.Service {
	t.Helper()
	d, err := c.DescribeServices(bg, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name}})
	if err != nil || len(d.Services) != 1 {
		t.Fatalf("describe service %s: %v %+v", name, err, d)
	}
	return d.Services[0]
}

// waitSteady waits until the service has one COMPLETED deployment with
// desired tasks running.
func waitSteady(t testing.TB, c *ecs.Client, cluster, name string, within time.Duration) types.Service {
	t.Helper()
	var svc types.Service
	eventually(t, within, func() bool {
		svc = describeService(t, c, cluster, name)
		return len(svc.Deployments) == 1 && svc.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted &&
			svc.RunningCount == svc.DesiredCount && svc.PendingCount == 0
	})
	return svc
}

// threeZones starts a server with three agents in three zones.
func threeZones(t testing.TB, serverArgs ...string) (*server, *ecs.Client, string, []*agentProc) {
	t.Helper()
	s := startServer(t, t.TempDir(), serverArgs...)
	c := s.ECS()
	cluster := newCluster(t, c)
	var agents []*agentProc
	for _, z := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
		agents = append(agents, startAgent(t, s, cluster, t.TempDir(), "--attribute", "ecs.availability-zone="+z))
	}
	waitInstances(t, c, cluster, 3)
	return s, c, cluster, agents
}

// TestRollingDeployment rolls a 4-task service to a new revision with 50/150
// and then 100/200, sampling the tasks every 100 ms: running or pending
// tasks never exceed maximumPercent and healthy ones never drop under
// minimumHealthyPercent. The aws CLI's services-stable waiter agrees.
func TestRollingDeployment(t *testing.T) {
	s, c, cluster, _ := threeZones(t)
	serve := types.ContainerDefinition{Name: aws.String("web"), Command: []string{"serve", "-addr", ":8080"},
		PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}, Memory: aws.Int32(32)}
	td1 := registerTD(t, c, "roll", serve)
	td2 := registerTD(t, c, "roll", serve)
	td3 := registerTD(t, c, "roll", serve)
	if _, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td1), DesiredCount: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	if res := s.aws(t, "ecs", "wait", "services-stable", "--cluster", cluster, "--services", "web"); res.ExitCode != 0 {
		t.Fatalf("services-stable: %s", res.Stderr)
	}
	waitSteady(t, c, cluster, "web", 90*time.Second)

	for _, step := range []struct {
		td       string
		min, max int32
	}{{td2, 50, 150}, {td3, 100, 200}} {
		floor, ceiling := int(math.Ceil(float64(step.min)*4/100)), int(math.Floor(float64(step.max)*4/100))
		if _, err := c.UpdateService(bg, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("web"), TaskDefinition: aws.String(step.td),
			DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(step.min), MaximumPercent: aws.Int32(step.max)}}); err != nil {
			t.Fatal(err)
		}
		samples := 0
		deadline := time.Now().Add(120 * time.Second)
		for {
			tasks, running := runningSample(t, c, cluster, "web")
			if len(tasks) > ceiling || running < floor {
				t.Fatalf("%d/%d: %d tasks running or pending (max %d), %d running (min %d)", step.min, step.max, len(tasks), ceiling, running, floor)
			}
			samples++
			svc := describeService(t, c, cluster, "web")
			if len(svc.Deployments) == 1 && svc.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted &&
				aws.ToString(svc.TaskDefinition) == step.td && svc.RunningCount == 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d/%d deployment did not complete: %+v", step.min, step.max, svc.Deployments)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("%d/%d deployment completed; bounds held over %d samples", step.min, step.max, samples)
		for _, task := range serviceTasks(t, c, cluster, "web", types.DesiredStatusRunning) {
			if aws.ToString(task.TaskDefinitionArn) != step.td {
				t.Fatalf("a task of %s still runs after the deployment to %s", aws.ToString(task.TaskDefinitionArn), step.td)
			}
		}
	}
	svc := describeService(t, c, cluster, "web")
	var msgs []string
	for _, e := range svc.Events {
		msgs = append(msgs, aws.ToString(e.Message))
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"has reached a steady state.", "has started", "deployment completed."} {
		if !strings.Contains(all, want) {
			t.Fatalf("events lack %q:\n%s", want, all)
		}
	}
}

// TestCircuitBreakerRollback deploys a revision whose container exits at
// once, with the circuit breaker and rollback on: the deployment FAILS and
// the service returns to the previous revision.
func TestCircuitBreakerRollback(t *testing.T) {
	_, c, cluster, _ := threeZones(t)
	good := registerTD(t, c, "cb", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"sleep", "10m"}, Memory: aws.Int32(32)})
	bad := registerTD(t, c, "cb", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"exit", "-code", "1"}, Memory: aws.Int32(32)})
	if _, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String("cb"),
		TaskDefinition: aws.String(good), DesiredCount: aws.Int32(2),
		DeploymentConfiguration: &types.DeploymentConfiguration{DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}}}); err != nil {
		t.Fatal(err)
	}
	waitSteady(t, c, cluster, "cb", 90*time.Second)
	if _, err := c.UpdateService(bg, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("cb"), TaskDefinition: aws.String(bad)}); err != nil {
		t.Fatal(err)
	}
	svc := waitSteady(t, c, cluster, "cb", 180*time.Second)
	if aws.ToString(svc.Deployments[0].TaskDefinition) != good {
		t.Fatalf("after the failed deployment the service runs %s, want %s", aws.ToString(svc.Deployments[0].TaskDefinition), good)
	}
	deps, err := c.ListServiceDeployments(bg, &ecs.ListServiceDeploymentsInput{Cluster: aws.String(cluster), Service: aws.String("cb")})
	if err != nil {
		t.Fatal(err)
	}
	failed := false
	for _, d := range deps.ServiceDeployments {
		failed = failed || d.Status == types.ServiceDeploymentStatusRollbackSuccessful
	}
	var msgs []string
	for _, e := range svc.Events {
		msgs = append(msgs, aws.ToString(e.Message))
	}
	if !failed || !strings.Contains(strings.Join(msgs, "\n"), "rolling back") {
		t.Fatalf("no failed deployment rolled back: %+v\n%s", deps.ServiceDeployments, strings.Join(msgs, "\n"))
	}
}

// TestDaemonService runs a DAEMON service on three agents, then on a fourth
// that joins later.
func TestDaemonService(t *testing.T) {
	s, c, cluster, _ := threeZones(t)
	td := registerTD(t, c, "daemon", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"sleep", "10m"}, Memory: aws.Int32(16)})
	if _, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String("d"),
		TaskDefinition: aws.String(td), SchedulingStrategy: types.SchedulingStrategyDaemon}); err != nil {
		t.Fatal(err)
	}
	onEach := func(n int) {
		eventually(t, 90*time.Second, func() bool {
			per := map[string]int{}
			for _, task := range serviceTasks(t, c, cluster, "d", types.DesiredStatusRunning) {
				if aws.ToString(task.LastStatus) == "RUNNING" {
					per[aws.ToString(task.ContainerInstanceArn)]++
				}
			}
			if len(per) != n {
				return false
			}
			for _, k := range per {
				if k != 1 {
					t.Fatalf("a DAEMON service put %d tasks on one instance", k)
				}
			}
			return true
		})
	}
	onEach(3)
	startAgent(t, s, cluster, t.TempDir(), "--attribute", "ecs.availability-zone=us-east-1d")
	waitInstances(t, c, cluster, 4)
	onEach(4)
}

// TestDrainingAndInstanceLoss drains an instance (its service task moves),
// then kills an agent with SIGKILL (its tasks are replaced after the grace
// period) and restarts it (the stale copy is stopped: one copy each).
func TestDrainingAndInstanceLoss(t *testing.T) {
	s, c, cluster, agents := threeZones(t, "--instance-grace-period", "5s")
	td := registerTD(t, c, "drain", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"sleep", "10m"}, Memory: aws.Int32(32)})
	if _, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String("s"),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	waitSteady(t, c, cluster, "s", 90*time.Second)
	standalone := runTask(t, c, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td)})
	standaloneTask := waitTask(t, c, cluster, standalone, "RUNNING")
	drained := aws.ToString(standaloneTask.ContainerInstanceArn)
	if _, err := c.UpdateContainerInstancesState(bg, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String(cluster),
		ContainerInstances: []string{drained}, Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, func() bool {
		tasks := serviceTasks(t, c, cluster, "s", types.DesiredStatusRunning)
		running := 0
		for _, task := range tasks {
			if aws.ToString(task.ContainerInstanceArn) == drained {
				return false
			}
			if aws.ToString(task.LastStatus) == "RUNNING" {
				running++
			}
		}
		return running == 3
	})
	if st := describeTask(t, c, cluster, standalone); aws.ToString(st.LastStatus) != "RUNNING" {
		t.Fatalf("draining stopped a standalone task: %s", aws.ToString(st.LastStatus))
	}
	if _, err := c.UpdateContainerInstancesState(bg, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String(cluster),
		ContainerInstances: []string{drained}, Status: types.ContainerInstanceStatusActive}); err != nil {
		t.Fatal(err)
	}

	// Kill an agent that runs a service task.
	tasks := serviceTasks(t, c, cluster, "s", types.DesiredStatusRunning)
	victim := aws.ToString(tasks[0].ContainerInstanceArn)
	var dir string
	var victimAgent *agentProc
	for _, a := range agents {
		if strings.Contains(a.logs.String(), victim) {
			victimAgent = a
			dir = a.cmd.Args[slicesIndex(a.cmd.Args, "--data-dir")+1]
		}
	}
	if victimAgent == nil {
		t.Fatal("no agent runs the victim instance")
	}
	victimAgent.Kill()
	eventually(t, 90*time.Second, func() bool {
		running := 0
		for _, task := range serviceTasks(t, c, cluster, "s", types.DesiredStatusRunning) {
			if aws.ToString(task.ContainerInstanceArn) == victim {
				return false
			}
			if aws.ToString(task.LastStatus) == "RUNNING" {
				running++
			}
		}
		return running == 3
	})
	// The agent comes back: the server no longer wants its old task there.
	startAgent(t, s, cluster, dir)
	eventually(t, 90*time.Second, func() bool {
		cs := containersOf(t, cluster, victim)
		for _, st := range cs {
			if st == "running" {
				return false
			}
		}
		return true
	})
	if n := len(serviceTasks(t, c, cluster, "s", types.DesiredStatusRunning)); n != 3 {
		t.Fatalf("%d service tasks after the agent came back, want 3", n)
	}
}

// containersOf returns the Docker status of every container an instance's
// agent started.
func containersOf(t testing.TB, cluster, instanceARN string) []string {
	t.Helper()
	rt, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := rt.List(bg, map[string]string{"io.flotilla.container-instance": instanceARN})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Status)
	}
	return out
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
