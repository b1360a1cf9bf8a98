package e2e

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestServerCrashMidDeployment kills the server with SIGKILL in the middle
// of a rolling deployment and restarts it on the same data dir and address:
// the deployment resumes and completes within its bounds, and no task of the
// new deployment is started twice.
func TestServerCrashMidDeployment(t *testing.T) {
	dir := t.TempDir()
	s, c, cluster, _ := threeZones(t)
	_ = dir
	serve := types.ContainerDefinition{Name: aws.String("web"), Command: []string{"serve", "-addr", ":8080"},
		PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}, Memory: aws.Int32(32)}
	td1 := registerTD(t, c, "crash", serve)
	td2 := registerTD(t, c, "crash", serve)
	if _, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td1), DesiredCount: aws.Int32(4),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(150)}}); err != nil {
		t.Fatal(err)
	}
	waitSteady(t, c, cluster, "web", 90*time.Second)
	up, err := c.UpdateService(bg, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("web"), TaskDefinition: aws.String(td2)})
	if err != nil {
		t.Fatal(err)
	}
	newDeployment := aws.ToString(up.Service.Deployments[0].Id)
	// Wait until the deployment is under way: a new task exists.
	eventually(t, 60*time.Second, func() bool {
		for _, task := range serviceTasks(t, c, cluster, "web", types.DesiredStatusRunning) {
			if aws.ToString(task.StartedBy) == newDeployment {
				return true
			}
		}
		return false
	})
	u, _ := url.Parse(s.Endpoint)
	dataDir := s.cmd.Args[slices.Index(s.cmd.Args, "--data-dir")+1]
	s.Kill()
	s = startServer(t, dataDir, "--listen", u.Host)
	c = s.ECS()
	deadline := time.Now().Add(120 * time.Second)
	for {
		tasks, running := runningSample(t, c, cluster, "web")
		if len(tasks) > 6 || running < 2 {
			t.Fatalf("after the restart: %d tasks running or pending (max 6), %d running (min 2)", len(tasks), running)
		}
		svc := describeService(t, c, cluster, "web")
		if len(svc.Deployments) == 1 && svc.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted && svc.RunningCount == 4 &&
			aws.ToString(svc.TaskDefinition) == td2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deployment did not resume to completion: %+v", svc.Deployments)
		}
		time.Sleep(100 * time.Millisecond)
	}
	started := 0
	for _, status := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		for _, task := range serviceTasks(t, c, cluster, "web", status) {
			if aws.ToString(task.StartedBy) == newDeployment {
				started++
			}
		}
	}
	if started != 4 {
		t.Fatalf("the new deployment started %d tasks for a desired count of 4", started)
	}
	if !strings.HasPrefix(newDeployment, "ecs-svc/") {
		t.Fatalf("deployment id %q", newDeployment)
	}
}
