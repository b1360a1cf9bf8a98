package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/flotilla/flotilla/internal/agent/docker"
)

// BenchmarkServiceRecovery measures, in one run, how long a service takes to
// have its tasks RUNNING again after (1) a task's container is killed
// (docker kill), against the ≤ 2 s target at the median, and (2) an agent
// dies, against the grace period + 2 s (grace 5 s here).
// go test -run '^$' -bench ServiceRecovery -benchtime 10x ./e2e/
func BenchmarkServiceRecovery(b *testing.B) {
	s := startServer(b, b.TempDir(), "--instance-grace-period", "5s")
	c := s.ECS()
	cluster := newCluster(b, c)
	var agents []*agentProc
	for _, z := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
		agents = append(agents, startAgent(b, s, cluster, b.TempDir(), "--attribute", "ecs.availability-zone="+z))
	}
	waitInstances(b, c, cluster, 3)
	td := registerTD(b, c, "recover", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"sleep", "10m"}, Memory: aws.Int32(32)})
	if _, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String("r"),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(3)}); err != nil {
		b.Fatal(err)
	}
	rt, err := docker.New(docker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	running := func() []types.Task {
		var out []types.Task
		for _, task := range serviceTasks(b, c, cluster, "r", types.DesiredStatusRunning) {
			if aws.ToString(task.LastStatus) == "RUNNING" {
				out = append(out, task)
			}
		}
		return out
	}
	waitFor := func(cond func() bool) {
		for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("service did not recover")
			}
		}
	}
	waitFor(func() bool { return len(running()) == 3 })

	var kills []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		victim := running()[0]
		t0 := time.Now()
		if err := rt.Stop(bg, aws.ToString(victim.Containers[0].RuntimeId), 0); err != nil {
			b.Fatal(err)
		}
		waitFor(func() bool {
			tasks := running()
			return len(tasks) == 3 && !slices.ContainsFunc(tasks, func(t types.Task) bool { return aws.ToString(t.TaskArn) == aws.ToString(victim.TaskArn) })
		})
		kills = append(kills, time.Since(t0))
	}
	b.StopTimer()

	var losses []time.Duration
	for i := 0; i < 3; i++ {
		tasks := running()
		inst := aws.ToString(tasks[0].ContainerInstanceArn)
		var victim *agentProc
		for _, a := range agents {
			if a != nil && strings.Contains(a.logs.String(), inst) {
				victim = a
			}
		}
		if victim == nil {
			b.Fatal("no agent for the instance")
		}
		dir := victim.cmd.Args[slices.Index(victim.cmd.Args, "--data-dir")+1]
		t0 := time.Now()
		victim.Kill()
		waitFor(func() bool {
			tasks := running()
			return len(tasks) == 3 && !slices.ContainsFunc(tasks, func(t types.Task) bool { return aws.ToString(t.ContainerInstanceArn) == inst })
		})
		losses = append(losses, time.Since(t0))
		for j, a := range agents {
			if a == victim {
				agents[j] = startAgent(b, s, cluster, dir)
			}
		}
		waitInstances(b, c, cluster, 3)
	}
	med := func(d []time.Duration) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2].Seconds()
	}
	b.ReportMetric(med(kills), "kill_to_running_s")
	b.ReportMetric(med(losses), "agent_loss_to_running_s")
	b.ReportMetric(5, "grace_s")
}
