package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla/internal/agent/docker"
)

var bg = context.Background()

// TestTaskLifecycle runs real containers through one agent: the lifecycle,
// exit codes and stop codes, essential containers, dependsOn, health checks,
// dynamic host ports, stopTimeout, a pull failure and idempotent RunTask.
func TestTaskLifecycle(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.ECS()
	cluster := newCluster(t, c)
	startAgent(t, s, cluster, t.TempDir())
	waitInstances(t, c, cluster, 1)
	rt, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("exit code and stop code", func(t *testing.T) {
		td := registerTD(t, c, "exit3", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"exit", "-code", "3", "-after", "1s"}})
		arn := runTask(t, c, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td), StartedBy: aws.String("e2e")})
		task := waitTask(t, c, cluster, arn, "STOPPED")
		if task.StopCode != types.TaskStopCodeEssentialContainerExited || aws.ToString(task.StoppedReason) != "Essential container in task exited" {
			t.Fatalf("stop code %q, reason %q", task.StopCode, aws.ToString(task.StoppedReason))
		}
		if ec := task.Containers[0].ExitCode; ec == nil || *ec != 3 {
			t.Fatalf("exit code %v, want 3", ec)
		}
		if task.StartedAt == nil || task.StoppingAt == nil || task.StoppedAt == nil || task.PullStartedAt == nil || task.PullStoppedAt == nil || task.ExecutionStoppedAt == nil {
			t.Fatalf("timestamps missing: %+v", task)
		}
		if !task.StoppedAt.After(*task.StartedAt) || task.StartedAt.Before(*task.CreatedAt) {
			t.Fatalf("timestamps out of order: created %v started %v stopped %v", task.CreatedAt, task.StartedAt, task.StoppedAt)
		}
		list, err := c.ListTasks(bg, &ecs.ListTasksInput{Cluster: aws.String(cluster), DesiredStatus: types.DesiredStatusStopped, StartedBy: aws.String("e2e")})
		if err != nil || len(list.TaskArns) != 1 || list.TaskArns[0] != arn {
			t.Fatalf("list STOPPED by startedBy: %v %v", list, err)
		}
	})

	t.Run("essential exit stops the others", func(t *testing.T) {
		td := registerTD(t, c, "pair",
			types.ContainerDefinition{Name: aws.String("short"), Command: []string{"exit", "-code", "0", "-after", "10s"}}, // time for long to start and trap SIGTERM
			types.ContainerDefinition{Name: aws.String("long"), Command: []string{"sleep", "10m"}, Essential: aws.Bool(false)})
		arn := runTask(t, c, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td)})
		task := waitTask(t, c, cluster, arn, "STOPPED")
		codes := map[string]int32{}
		for _, ct := range task.Containers {
			if ct.ExitCode == nil {
				t.Fatalf("container %s has no exit code", aws.ToString(ct.Name))
			}
			codes[aws.ToString(ct.Name)] = *ct.ExitCode
		}
		if codes["short"] != 0 || codes["long"] != 143 {
			t.Fatalf("exit codes %v: want short 0 and long stopped by SIGTERM (143)", codes)
		}
	})

	t.Run("dependsOn", func(t *testing.T) {
		td := registerTD(t, c, "deps",
			types.ContainerDefinition{Name: aws.String("init"), Command: []string{"exit", "-code", "0", "-after", "1s"}, Essential: aws.Bool(false)},
			types.ContainerDefinition{Name: aws.String("app"), Command: []string{"serve", "-addr", ":8080"},
				DependsOn: []types.ContainerDependency{{ContainerName: aws.String("init"), Condition: types.ContainerConditionSuccess}}})
		arn := runTask(t, c, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td)})
		task := waitTask(t, c, cluster, arn, "RUNNING")
		ids := map[string]string{}
		for _, ct := range task.Containers {
			ids[aws.ToString(ct.Name)] = aws.ToString(ct.RuntimeId)
		}
		initSt, err := rt.Inspect(bg, ids["init"])
		if err != nil {
			t.Fatal(err)
		}
		appSt, err := rt.Inspect(bg, ids["app"])
		if err != nil {
			t.Fatal(err)
		}
		if initSt.ExitCode != 0 || !appSt.StartedAt.After(initSt.FinishedAt) {
			t.Fatalf("app started %v, before init finished %v (exit %d)", appSt.StartedAt, initSt.FinishedAt, initSt.ExitCode)
		}
		stopTask(t, c, cluster, arn)

		// A SUCCESS dependency that fails stops the task before its dependant starts.
		td = registerTD(t, c, "depsfail",
			types.ContainerDefinition{Name: aws.String("init"), Command: []string{"exit", "-code", "1"}, Essential: aws.Bool(false)},
			types.ContainerDefinition{Name: aws.String("app"), Command: []string{"serve"},
				DependsOn: []types.ContainerDependency{{ContainerName: aws.String("init"), Condition: types.ContainerConditionSuccess}}})
		arn = runTask(t, c, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td)})
		task = waitTask(t, c, cluster, arn, "STOPPED")
		if task.StopCode != types.TaskStopCodeTaskFailedToStart || !strings.Contains(aws.ToString(task.StoppedReason), "DependencyError") {
			t.Fatalf("failed dependency: stop code %q reason %q", task.StopCode, aws.ToString(task.StoppedReason))
		}
	})

	t.Run("health, dynamic port", func(t *testing.T) {
		td := registerTD(t, c, "healthy", types.ContainerDefinition{Name: aws.String("web"),
			Command:      []string{"serve", "-addr", ":8080"},
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
			HealthCheck: &types.HealthCheck{Command: []string{"CMD", "/testapp", "check", "-url", "http://127.0.0.1:8080/healthz"},
				Interval: aws.Int32(5), Timeout: aws.Int32(2), Retries: aws.Int32(1)}})
		arn := runTask(t, c, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td)})
		task := waitTask(t, c, cluster, arn, "RUNNING")
		nb := task.Containers[0].NetworkBindings
		// One binding on every interface, or (when the engine picked a
		// different port for IPv6) the IPv4 one first, as ECS lists them.
		if len(nb) == 0 || len(nb) > 2 || aws.ToInt32(nb[0].HostPort) < 1024 || strings.Contains(aws.ToString(nb[0].BindIP), ":") {
			t.Fatalf("network bindings %+v", nb)
		}
		base := fmt.Sprintf("http://127.0.0.1:%d", aws.ToInt32(nb[0].HostPort))
		// RUNNING means the container started, not that its process listens
		// yet (until it does, the engine's port proxy accepts and resets);
		// HEALTHY means the check inside reached the server.
		eventually(t, 60*time.Second, func() bool { return describeTask(t, c, cluster, arn).HealthStatus == types.HealthStatusHealthy })
		resp, err := http.Get(base + "/")
		if err != nil {
			t.Fatalf("dynamic host port not reachable: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "host=") {
			t.Fatalf("unexpected answer %q", body)
		}
		resp, err = http.Post(base+"/unhealthy", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		eventually(t, 60*time.Second, func() bool {
			task := describeTask(t, c, cluster, arn)
			return task.HealthStatus == types.HealthStatusUnhealthy && task.Containers[0].HealthStatus == types.HealthStatusUnhealthy
		})
		stopTask(t, c, cluster, arn)
	})

	t.Run("stopTimeout", func(t *testing.T) {
		td := registerTD(t, c, "stubborn", types.ContainerDefinition{Name: aws.String("main"),
			Command: []string{"serve", "-ignore-term"}, StopTimeout: aws.Int32(3)})
		arn := runTask(t, c, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td)})
		waitTask(t, c, cluster, arn, "RUNNING")
		task := stopTask(t, c, cluster, arn)
		if ec := task.Containers[0].ExitCode; ec == nil || *ec != 137 {
			t.Fatalf("exit code %v, want 137 (SIGKILL after the stop timeout)", ec)
		}
		st, err := rt.Inspect(bg, aws.ToString(task.Containers[0].RuntimeId))
		if err != nil {
			t.Fatal(err)
		}
		if waited := st.FinishedAt.Sub(*task.StoppingAt); waited < 3*time.Second {
			t.Fatalf("killed %s after the stop request; stopTimeout is 3s", waited)
		}
	})

	t.Run("pull failure", func(t *testing.T) {
		td := registerTD(t, c, "nopull", types.ContainerDefinition{Name: aws.String("main"), Image: aws.String("no-such-registry.invalid/app:1")})
		arn := runTask(t, c, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td)})
		task := waitTask(t, c, cluster, arn, "STOPPED")
		if task.StopCode != types.TaskStopCodeTaskFailedToStart || !strings.HasPrefix(aws.ToString(task.StoppedReason), "CannotPullContainerError") {
			t.Fatalf("stop code %q, reason %q", task.StopCode, aws.ToString(task.StoppedReason))
		}
		if task.StartedAt != nil {
			t.Fatalf("a task that never started has startedAt %v", task.StartedAt)
		}
	})

	t.Run("idempotent RunTask", func(t *testing.T) {
		td := registerTD(t, c, "idem", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"sleep", "10m"}})
		in := &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td), ClientToken: aws.String("token-1")}
		first := runTask(t, c, in)
		second := runTask(t, c, in)
		if first != second {
			t.Fatalf("same client token gave two tasks: %s and %s", first, second)
		}
		in.StartedBy = aws.String("someone-else")
		_, err := c.RunTask(bg, in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ConflictException" {
			t.Fatalf("same token, other parameters: %v", err)
		}
		list, err := c.ListTasks(bg, &ecs.ListTasksInput{Cluster: aws.String(cluster), Family: aws.String("idem")})
		if err != nil || len(list.TaskArns) != 1 {
			t.Fatalf("tasks of family idem: %v %v", list, err)
		}
		stopTask(t, c, cluster, first)
	})
}

// stopTask stops a task and waits for STOPPED.
func stopTask(t testing.TB, c *ecs.Client, cluster, arn string) types.Task {
	t.Helper()
	if _, err := c.StopTask(bg, &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(arn), Reason: aws.String("test over")}); err != nil {
		t.Fatal(err)
	}
	task := waitTask(t, c, cluster, arn, "STOPPED")
	if task.StopCode != types.TaskStopCodeUserInitiated || aws.ToString(task.StoppedReason) != "test over" {
		t.Fatalf("stop code %q reason %q", task.StopCode, aws.ToString(task.StoppedReason))
	}
	return task
}
