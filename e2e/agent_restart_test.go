package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/flotilla/flotilla/internal/agent/docker"
	"github.com/flotilla/flotilla/internal/seal"
)

// TestAgentSurvivesSIGKILL kills the agent with SIGKILL ten times in a row
// under running tasks: every restart adopts the same containers without
// restarting them. While it is down, one task is stopped through the API and
// one container is removed behind its back; after the restart both tasks are
// reported STOPPED and the others keep running.
func TestAgentSurvivesSIGKILL(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.ECS()
	cluster := newCluster(t, c)
	dir := t.TempDir()
	a := startAgent(t, s, cluster, dir)
	waitInstances(t, c, cluster, 1)
	rt, err := docker.New(docker.Options{})
	if err != nil {
		t.Fatal(err)
	}

	td := registerTD(t, c, "steady", types.ContainerDefinition{Name: aws.String("web"), Command: []string{"serve", "-addr", ":8080"},
		PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}})
	out, err := c.RunTask(bg, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td), Count: aws.Int32(4)})
	if err != nil || len(out.Tasks) != 4 {
		t.Fatalf("run 4 tasks: %v %+v", err, out)
	}
	type seen struct {
		id      string
		started time.Time
	}
	containers := map[string]seen{}
	for _, task := range out.Tasks {
		arn := aws.ToString(task.TaskArn)
		running := waitTask(t, c, cluster, arn, "RUNNING")
		id := aws.ToString(running.Containers[0].RuntimeId)
		st, err := rt.Inspect(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		containers[arn] = seen{id, st.StartedAt}
	}
	arns := make([]string, 0, 4)
	for _, task := range out.Tasks {
		arns = append(arns, aws.ToString(task.TaskArn))
	}
	stoppedByAPI, removedBehind := arns[0], arns[1]

	for i := 0; i < 10; i++ {
		a.Kill()
		switch i {
		case 3:
			if _, err := c.StopTask(bg, &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(stoppedByAPI), Reason: aws.String("while the agent was down")}); err != nil {
				t.Fatal(err)
			}
		case 6:
			if err := rt.Remove(bg, containers[removedBehind].id); err != nil {
				t.Fatal(err)
			}
		}
		a = startAgent(t, s, cluster, dir)
		waitInstances(t, c, cluster, 1)
	}

	waitTask(t, c, cluster, stoppedByAPI, "STOPPED")
	gone := waitTask(t, c, cluster, removedBehind, "STOPPED")
	if gone.StopCode != types.TaskStopCodeEssentialContainerExited || aws.ToString(gone.Containers[0].Reason) == "" {
		t.Fatalf("removed container: stop code %q, container reason %q", gone.StopCode, aws.ToString(gone.Containers[0].Reason))
	}
	for _, arn := range arns[2:] {
		task := describeTask(t, c, cluster, arn)
		if aws.ToString(task.LastStatus) != "RUNNING" || aws.ToString(task.Containers[0].RuntimeId) != containers[arn].id {
			t.Fatalf("task %s: %s with container %s, want RUNNING with %s", arn, aws.ToString(task.LastStatus),
				aws.ToString(task.Containers[0].RuntimeId), containers[arn].id)
		}
		st, err := rt.Inspect(bg, containers[arn].id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != "running" || !st.StartedAt.Equal(containers[arn].started) {
			t.Fatalf("container of %s was restarted: status %s, started %v then %v", arn, st.Status, containers[arn].started, st.StartedAt)
		}
	}
	// No container was started twice: one per task in the cluster.
	cs, err := rt.List(bg, map[string]string{"com.amazonaws.ecs.cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/" + cluster})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 { // four tasks, one container removed behind the agent's back
		t.Fatalf("%d containers in the cluster, want 3", len(cs))
	}
}

// TestTwoAgents forms a two-instance cluster from two agent processes on one
// machine, in two availability zones, and starts a task on each.
func TestTwoAgents(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.ECS()
	cluster := newCluster(t, c)
	dirA := t.TempDir()
	startAgent(t, s, cluster, dirA, "--attribute", "ecs.availability-zone=us-east-1a")
	startAgent(t, s, cluster, t.TempDir(), "--attribute", "ecs.availability-zone=us-east-1b", "--attribute", "stack=blue")
	instances := waitInstances(t, c, cluster, 2)
	d, err := c.DescribeContainerInstances(bg, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(cluster), ContainerInstances: instances})
	if err != nil {
		t.Fatal(err)
	}
	zones := map[string]bool{}
	for _, ci := range d.ContainerInstances {
		for _, at := range ci.Attributes {
			if aws.ToString(at.Name) == "ecs.availability-zone" {
				zones[aws.ToString(at.Value)] = true
			}
		}
	}
	if len(zones) != 2 {
		t.Fatalf("zones %v", zones)
	}
	td := registerTD(t, c, "pinned", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"sleep", "10m"}})
	st, err := c.StartTask(bg, &ecs.StartTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td), ContainerInstances: instances})
	if err != nil || len(st.Tasks) != 2 {
		t.Fatalf("start-task on both instances: %v %+v", err, st)
	}
	on := map[string]bool{}
	for _, task := range st.Tasks {
		running := waitTask(t, c, cluster, aws.ToString(task.TaskArn), "RUNNING")
		on[aws.ToString(running.ContainerInstanceArn)] = true
	}
	if len(on) != 2 {
		t.Fatalf("tasks ran on %v, want both instances", on)
	}

	// Agent A signs with its instance's own credentials, which reach only
	// its own instance's tasks and only the agent operations.
	// They are sealed in its state file with its master key, beside its
	// data dir.
	var state struct {
		InstanceARN string          `json:"instanceArn"`
		Plain       json.RawMessage `json:"credentials"`
		Sealed      []byte          `json:"sealedCredentials"`
		Credentials struct {
			AccessKeyID     string `json:"accessKeyId"`
			SecretAccessKey string `json:"secretAccessKey"`
		} `json:"-"`
	}
	b, err := os.ReadFile(filepath.Join(dirA, "agent-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &state); err != nil || state.Sealed == nil || state.Plain != nil {
		t.Fatalf("agent A's state holds no sealed instance credentials, or plaintext ones: %v %s", err, b)
	}
	keys, err := seal.Load(dirA + ".master.key")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := keys.Open(state.Sealed, "agent-state.json:credentials")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(plain, &state.Credentials); err != nil || state.Credentials.AccessKeyID == "" {
		t.Fatalf("agent A's instance credentials: %v %s", err, plain)
	}
	asA := ecs.New(ecs.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(state.Credentials.AccessKeyID, state.Credentials.SecretAccessKey, "")})
	var own, other string
	for _, task := range st.Tasks {
		if aws.ToString(task.ContainerInstanceArn) == state.InstanceARN {
			own = aws.ToString(task.TaskArn)
		} else {
			other = aws.ToString(task.TaskArn)
		}
	}
	change := func(task string) error {
		_, err := asA.SubmitTaskStateChange(bg, &ecs.SubmitTaskStateChangeInput{Cluster: aws.String(cluster), Task: aws.String(task), Status: aws.String("RUNNING")})
		return err
	}
	if err := change(own); err != nil {
		t.Fatalf("agent A reporting its own task: %v", err)
	}
	var ae smithy.APIError
	if err := change(other); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("agent A reporting agent B's task: %v", err)
	}
	if _, err := asA.CreateCluster(bg, &ecs.CreateClusterInput{ClusterName: aws.String("nope")}); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("instance credentials creating a cluster: %v", err)
	}
	if _, err := asA.StopTask(bg, &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(other)}); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("instance credentials stopping a task: %v", err)
	}
}
