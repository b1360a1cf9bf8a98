package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/flotilla/flotilla/internal/agent/docker"
	"github.com/flotilla/flotilla/internal/testimage"
)

// agentProc is a running `flotilla agent`.
type agentProc struct {
	cmd    *exec.Cmd
	logs   *syncWriter
	waited chan struct{}
}

// startAgent runs `flotilla agent` against s with its own data dir.
func startAgent(t testing.TB, s *server, cluster, dataDir string, args ...string) *agentProc {
	t.Helper()
	all := append([]string{"agent", "--server", s.Endpoint, "--cluster", cluster, "--data-dir", dataDir,
		"--cpu", "4096", "--memory", "4096", "--cleanup-wait", "1h", "--log-level", "debug"}, args...)
	cmd := exec.Command(binary, all...)
	cmd.Env = append(os.Environ(), "FLOTILLA_ACCESS_KEY_ID="+s.Env["AWS_ACCESS_KEY_ID"], "FLOTILLA_SECRET_ACCESS_KEY="+s.Env["AWS_SECRET_ACCESS_KEY"])
	a := &agentProc{cmd: cmd, logs: &syncWriter{w: &bytes.Buffer{}}, waited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = a.logs, a.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(a.waited) }()
	t.Cleanup(func() {
		a.Stop()
		if t.Failed() {
			t.Logf("agent logs (%s):\n%s", dataDir, a.logs.String())
		}
	})
	return a
}

func (a *agentProc) Stop() {
	select {
	case <-a.waited:
		return
	default:
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.waited:
	case <-time.After(20 * time.Second):
		a.cmd.Process.Kill()
		<-a.waited
	}
}

func (a *agentProc) Kill() {
	a.cmd.Process.Kill()
	<-a.waited
}

// newCluster creates a cluster with a unique name for one test and, when the
// test ends, stops its tasks and removes their containers.
func newCluster(t testing.TB, c *ecs.Client) string {
	t.Helper()
	name := fmt.Sprintf("t%d", time.Now().UnixNano())
	if _, err := c.CreateCluster(context.Background(), &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeContainers(t, name, nil) })
	return name
}

// removeContainers removes every container of a test's cluster; with s,
// only those of s's container instances.
func removeContainers(t testing.TB, cluster string, s *server) {
	var mine map[string]bool
	if s != nil {
		mine = map[string]bool{}
		if out, err := s.ECS().ListContainerInstances(context.Background(), &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster)}); err == nil {
			for _, arn := range out.ContainerInstanceArns {
				mine[arn] = true
			}
		}
	}
	rt, err := docker.New(docker.Options{})
	if err != nil {
		t.Log(err)
		return
	}
	ctx := context.Background()
	cs, err := rt.List(ctx, nil)
	if err != nil {
		return
	}
	for _, c := range cs {
		if mine != nil && !mine[c.Labels["io.flotilla.container-instance"]] {
			continue
		}
		// The cluster of that name in any region.
		if arn := c.Labels["com.amazonaws.ecs.cluster"]; strings.HasPrefix(arn, "arn:aws:ecs:") && strings.HasSuffix(arn, ":123456789012:cluster/"+cluster) {
			rt.Stop(ctx, c.ID, time.Second)
			rt.Remove(ctx, c.ID)
		}
	}
}

// waitInstances waits until n connected instances are in the cluster.
func waitInstances(t testing.TB, c *ecs.Client, cluster string, n int) []string {
	t.Helper()
	var arns []string
	eventually(t, 60*time.Second, func() bool {
		out, err := c.ListContainerInstances(context.Background(), &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster)})
		if err != nil || len(out.ContainerInstanceArns) < n {
			return false
		}
		d, err := c.DescribeContainerInstances(context.Background(), &ecs.DescribeContainerInstancesInput{Cluster: aws.String(cluster), ContainerInstances: out.ContainerInstanceArns})
		if err != nil {
			return false
		}
		connected := 0
		for _, ci := range d.ContainerInstances {
			if ci.AgentConnected {
				connected++
			}
		}
		arns = out.ContainerInstanceArns
		return connected == n
	})
	return arns
}

// eventually polls cond until it holds or the deadline (generous: these
// machines are shared) passes.
func eventually(t testing.TB, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// describeTask returns one task.
func describeTask(t testing.TB, c *ecs.Client, cluster, arn string) types.Task {
	t.Helper()
	out, err := c.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: []string{arn}, Include: []types.TaskField{types.TaskFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("describe %s: %+v", arn, out.Failures)
	}
	return out.Tasks[0]
}

// waitTask waits until the task's lastStatus is status.
func waitTask(t testing.TB, c *ecs.Client, cluster, arn, status string) types.Task {
	t.Helper()
	var task types.Task
	eventually(t, 90*time.Second, func() bool {
		task = describeTask(t, c, cluster, arn)
		return aws.ToString(task.LastStatus) == status
	})
	return task
}

// registerTD registers a task definition of the test image's containers.
func registerTD(t testing.TB, c *ecs.Client, family string, containers ...types.ContainerDefinition) string {
	t.Helper()
	for i := range containers {
		if containers[i].Image == nil {
			containers[i].Image = aws.String(testimage.Tag)
		}
		if containers[i].Memory == nil && containers[i].MemoryReservation == nil {
			containers[i].Memory = aws.Int32(64)
		}
	}
	out, err := c.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{Family: aws.String(family), ContainerDefinitions: containers})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// runTask runs one task and fails the test if it was not placed.
func runTask(t testing.TB, c *ecs.Client, in *ecs.RunTaskInput) string {
	t.Helper()
	out, err := c.RunTask(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("run-task placed %d tasks; failures %+v", len(out.Tasks), out.Failures)
	}
	return aws.ToString(out.Tasks[0].TaskArn)
}
