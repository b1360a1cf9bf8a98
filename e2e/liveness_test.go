package e2e

import (
	"context"
	"maps"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/flotilla/flotilla/internal/agent/docker"
)

// runningContainers returns, by task ARN, the container ID of each RUNNING
// task of a service (one container per task).
func runningContainers(t testing.TB, c *ecs.Client, cluster, service string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, task := range serviceTasks(t, c, cluster, service, types.DesiredStatusRunning) {
		if aws.ToString(task.LastStatus) == "RUNNING" {
			out[aws.ToString(task.TaskArn)] = aws.ToString(task.Containers[0].RuntimeId)
		}
	}
	return out
}

// replacementEvents returns the service's events since a time that say it
// started, stopped or could not place tasks.
func replacementEvents(t testing.TB, c *ecs.Client, cluster, service string, since time.Time) []string {
	t.Helper()
	var out []string
	for _, e := range describeService(t, c, cluster, service).Events {
		msg := aws.ToString(e.Message)
		if aws.ToTime(e.CreatedAt).After(since) &&
			(strings.Contains(msg, "has started") || strings.Contains(msg, "has stopped") || strings.Contains(msg, "unable to place")) {
			out = append(out, msg)
		}
	}
	return out
}

// removeInstanceContainers removes the containers an instance's agent
// started, without asking a server (it may be down).
func removeInstanceContainers(t testing.TB, instanceARN string) {
	rt, err := docker.New(docker.Options{})
	if err != nil {
		t.Log(err)
		return
	}
	ctx := context.Background()
	cs, err := rt.List(ctx, map[string]string{"io.flotilla.container-instance": instanceARN})
	if err != nil {
		t.Log(err)
		return
	}
	for _, c := range cs {
		rt.Stop(ctx, c.ID, time.Second)
		rt.Remove(ctx, c.ID)
	}
}

// TestLongServerRestartKeepsTasks stops `flotilla up` for three times its
// --instance-grace-period with a service running and starts it again: the
// server could not hear from the agent while it was down, so the service
// keeps the same tasks and containers, none is stopped and no replacement
// is started.
func TestLongServerRestartKeepsTasks(t *testing.T) {
	const grace = 3 * time.Second
	dataDir := t.TempDir()
	args := []string{"--cpu", "1024", "--memory", "1024", "--instance-grace-period", grace.String()}
	s := startUp(t, dataDir, args...)
	c := s.ECS()
	instances := waitInstances(t, c, "default", 1)
	t.Cleanup(func() { removeInstanceContainers(t, instances[0]) })
	td := registerTD(t, c, "keep", types.ContainerDefinition{Name: aws.String("web"), Command: []string{"serve", "-addr", ":8080"},
		PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}, Memory: aws.Int32(32)})
	if _, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String("default"), ServiceName: aws.String("keep"),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	waitSteady(t, c, "default", "keep", 90*time.Second)
	before := runningContainers(t, c, "default", "keep")
	if len(before) != 2 {
		t.Fatalf("running tasks before the restart: %v", before)
	}

	u, _ := url.Parse(s.Endpoint)
	s.Stop()
	time.Sleep(3 * grace) // the server is away for longer than the grace period
	restarted := time.Now()
	s = startUp(t, dataDir, append(args, "--listen", u.Host)...)
	c = s.ECS()
	waitInstances(t, c, "default", 1)
	// Give the controller the grace period and two resyncs (5 s each) to
	// act on what it sees; with absence counted from the last heartbeat
	// before the stop, it replaced every task at once.
	time.Sleep(grace + 10*time.Second)

	if after := runningContainers(t, c, "default", "keep"); !maps.Equal(before, after) {
		t.Errorf("running tasks after the restart %v, want the same as before %v", after, before)
	}
	if stopped := serviceTaskARNs(t, c, "default", "keep", types.DesiredStatusStopped); len(stopped) != 0 {
		for _, task := range serviceTasks(t, c, "default", "keep", types.DesiredStatusStopped) {
			t.Errorf("task %s stopped: %s", aws.ToString(task.TaskArn), aws.ToString(task.StoppedReason))
		}
	}
	if evs := replacementEvents(t, c, "default", "keep", restarted); len(evs) != 0 {
		t.Errorf("events after the restart: %q", evs)
	}
	rt, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for arn, id := range before {
		if st, err := rt.Inspect(bg, id); err != nil || st.Status != "running" {
			t.Errorf("container %s of %s: %v %+v", id, arn, err, st)
		}
	}
}

// TestAgentsAwayPastGracePeriod kills both agents of a cluster with SIGKILL
// under constant load through the load balancer and brings them back after
// four grace periods. There is nowhere to place replacements, so the tasks
// stay registered and serving: no request fails, and the returning agents
// keep the same containers (a replacement placed on the first agent back
// is the extra that goes when the second returns).
func TestAgentsAwayPastGracePeriod(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed; `make deps` installs it")
	}
	const grace = 5 * time.Second
	s := startServer(t, t.TempDir(), "--instance-grace-period", grace.String())
	c := s.ECS()
	cluster := newCluster(t, c)
	dirs := []string{t.TempDir(), t.TempDir()}
	var agents []*agentProc
	for _, d := range dirs {
		agents = append(agents, startAgent(t, s, cluster, d))
	}
	waitInstances(t, c, cluster, 2)
	f := newFrontDoor(t, s.ELB(), "away")
	tg := f.targetGroup(t, "away", elbtypes.TargetTypeEnumInstance, 10, "/*")
	td := webTD(t, c, "away", "v1")
	createWebBehind(t, c, cluster, td, tg)
	waitSteady(t, c, cluster, "web", 2*time.Minute)
	waitHealthy(t, s.ELB(), aws.String(tg), 2)
	before := runningContainers(t, c, cluster, "web")
	if len(before) != 2 {
		t.Fatalf("running tasks before: %v", before)
	}

	ctx, cancel := context.WithTimeout(bg, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk, "-t2", "-c16", "-d45s", "--timeout", "10s", f.base+"/")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	for _, a := range agents {
		a.Kill()
	}
	time.Sleep(4 * grace) // away for four grace periods
	for _, d := range dirs {
		startAgent(t, s, cluster, d)
	}
	waitInstances(t, c, cluster, 2)
	wrkClean(t, cmd, &out, "while the agents were away")
	if after := runningContainers(t, c, cluster, "web"); !maps.Equal(before, after) {
		t.Errorf("running tasks after the agents returned %v, want the same as before %v", after, before)
	}
	// An agent back before the other gives capacity for a replacement; the
	// second one's return makes it an extra, which goes. The old tasks
	// never do.
	for _, task := range serviceTasks(t, c, cluster, "web", types.DesiredStatusStopped) {
		if _, old := before[aws.ToString(task.TaskArn)]; old {
			t.Errorf("task %s stopped: %s", aws.ToString(task.TaskArn), aws.ToString(task.StoppedReason))
		} else {
			t.Logf("replacement %s stopped: %s", aws.ToString(task.TaskArn), aws.ToString(task.StoppedReason))
		}
	}
	rt, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for arn, id := range before {
		if st, err := rt.Inspect(bg, id); err != nil || st.Status != "running" {
			t.Errorf("container %s of %s: %v %+v", id, arn, err, st)
		}
	}
}
