package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIWalkthrough runs the README's walk-through with the aws CLI.
func TestCLIWalkthrough(t *testing.T) {
	s := startServer(t, t.TempDir())
	webJSON, err := filepath.Abs("../examples/web.json")
	if err != nil {
		t.Fatal(err)
	}

	var created struct {
		Cluster struct {
			ClusterArn, ClusterName, Status string
		}
	}
	mustJSON(t, s.aws(t, "ecs", "create-cluster", "--cluster-name", "demo", "--tags", "key=env,value=dev"), &created)
	if created.Cluster.ClusterName != "demo" || created.Cluster.Status != "ACTIVE" ||
		created.Cluster.ClusterArn != "arn:aws:ecs:us-east-1:123456789012:cluster/demo" {
		t.Fatalf("create-cluster: %+v", created.Cluster)
	}

	var listed struct{ ClusterArns []string }
	mustJSON(t, s.aws(t, "ecs", "list-clusters"), &listed)
	if len(listed.ClusterArns) != 1 || listed.ClusterArns[0] != created.Cluster.ClusterArn {
		t.Fatalf("list-clusters: %v", listed.ClusterArns)
	}

	var described struct {
		Clusters []struct {
			ClusterName string
			Tags        []struct{ Key, Value string }
			Settings    []struct{ Name, Value string }
		}
		Failures []struct{ Arn, Reason string }
	}
	mustJSON(t, s.aws(t, "ecs", "describe-clusters", "--clusters", "demo", "nope", "--include", "TAGS", "SETTINGS"), &described)
	if len(described.Clusters) != 1 || len(described.Clusters[0].Tags) != 1 || described.Clusters[0].Tags[0].Value != "dev" {
		t.Fatalf("describe-clusters clusters: %+v", described.Clusters)
	}
	if len(described.Clusters[0].Settings) != 1 || described.Clusters[0].Settings[0].Name != "containerInsights" {
		t.Fatalf("describe-clusters settings: %+v", described.Clusters[0].Settings)
	}
	if len(described.Failures) != 1 || described.Failures[0].Reason != "MISSING" ||
		described.Failures[0].Arn != "arn:aws:ecs:us-east-1:123456789012:cluster/nope" {
		t.Fatalf("describe-clusters failures: %+v", described.Failures)
	}

	var reg struct {
		TaskDefinition struct {
			TaskDefinitionArn    string
			Revision             int
			Status               string
			NetworkMode          string
			ContainerDefinitions []struct {
				Name         string
				Essential    bool
				PortMappings []struct {
					ContainerPort, HostPort int
					Protocol                string
				}
				HealthCheck struct{ Interval, Timeout, Retries int }
			}
		}
	}
	for rev := 1; rev <= 2; rev++ {
		mustJSON(t, s.aws(t, "ecs", "register-task-definition", "--cli-input-json", "file://"+webJSON), &reg)
		if reg.TaskDefinition.Revision != rev {
			t.Fatalf("register #%d: revision %d", rev, reg.TaskDefinition.Revision)
		}
	}
	td := reg.TaskDefinition
	if td.TaskDefinitionArn != "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2" || td.Status != "ACTIVE" || td.NetworkMode != "bridge" {
		t.Fatalf("register-task-definition: %+v", td)
	}
	if c := td.ContainerDefinitions[0]; !c.Essential || c.PortMappings[0].Protocol != "tcp" || c.HealthCheck.Retries != 3 {
		t.Fatalf("container definition defaults: %+v", c)
	}

	var desc struct {
		TaskDefinition struct {
			Revision int
			Status   string
		}
		Tags []struct{ Key, Value string }
	}
	mustJSON(t, s.aws(t, "ecs", "describe-task-definition", "--task-definition", "web", "--include", "TAGS"), &desc)
	if desc.TaskDefinition.Revision != 2 || len(desc.Tags) != 1 || desc.Tags[0].Key != "team" {
		t.Fatalf("describe-task-definition web: %+v", desc)
	}

	var dereg struct{ TaskDefinition struct{ Status string } }
	mustJSON(t, s.aws(t, "ecs", "deregister-task-definition", "--task-definition", "web:2"), &dereg)
	if dereg.TaskDefinition.Status != "INACTIVE" {
		t.Fatalf("deregister: %+v", dereg)
	}
	mustJSON(t, s.aws(t, "ecs", "describe-task-definition", "--task-definition", "web"), &desc)
	if desc.TaskDefinition.Revision != 1 {
		t.Fatalf("latest ACTIVE after deregistering web:2 is revision %d, want 1", desc.TaskDefinition.Revision)
	}

	var tdl struct{ TaskDefinitionArns []string }
	mustJSON(t, s.aws(t, "ecs", "list-task-definitions", "--status", "INACTIVE"), &tdl)
	if len(tdl.TaskDefinitionArns) != 1 || !strings.HasSuffix(tdl.TaskDefinitionArns[0], "web:2") {
		t.Fatalf("list-task-definitions INACTIVE: %v", tdl.TaskDefinitionArns)
	}
	// The CLI follows nextToken itself: a page size of 1 must still list both.
	var fams struct{ Families []string }
	mustJSON(t, s.aws(t, "ecs", "register-task-definition", "--family", "worker", "--container-definitions", `[{"name":"w","image":"busybox","memory":64}]`), &reg)
	mustJSON(t, s.aws(t, "ecs", "list-task-definition-families", "--page-size", "1"), &fams)
	if strings.Join(fams.Families, ",") != "web,worker" {
		t.Fatalf("list-task-definition-families: %v", fams.Families)
	}

	res := s.aws(t, "ecs", "register-task-definition", "--family", "bad", "--container-definitions", `[{"name":"a","image":"x"}]`)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "ClientException") || !strings.Contains(res.Stderr, "memory") {
		t.Fatalf("registering without memory: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	res = s.aws(t, "ecs", "update-cluster-settings", "--cluster", "nope", "--settings", "name=containerInsights,value=enabled")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "ClusterNotFoundException") {
		t.Fatalf("update-cluster-settings on a missing cluster: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}

	var del struct{ Cluster struct{ Status string } }
	mustJSON(t, s.aws(t, "ecs", "delete-cluster", "--cluster", "demo"), &del)
	if del.Cluster.Status != "INACTIVE" {
		t.Fatalf("delete-cluster: %+v", del)
	}
}

// TestCLISignatureErrors checks that the CLI sees AWS's codes for bad
// credentials.
func TestCLISignatureErrors(t *testing.T) {
	s := startServer(t, t.TempDir())
	env := map[string]string{}
	for k, v := range s.Env {
		env[k] = v
	}
	env["AWS_SECRET_ACCESS_KEY"] = "wrong" + s.Env["AWS_SECRET_ACCESS_KEY"]
	if res := runAWS(t, env, "ecs", "list-clusters"); !strings.Contains(res.Stderr, "InvalidSignatureException") {
		t.Fatalf("wrong secret: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	env["AWS_ACCESS_KEY_ID"] = "AKIAUNKNOWNUNKNOWN00"
	if res := runAWS(t, env, "ecs", "list-clusters"); !strings.Contains(res.Stderr, "UnrecognizedClientException") {
		t.Fatalf("unknown key: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
}

// TestBoto3 drives the server with boto3, paginators included.
func TestBoto3(t *testing.T) {
	s := startServer(t, t.TempDir())
	script := `
import boto3, os, sys
ecs = boto3.client("ecs", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
for i in range(5):
    ecs.create_cluster(clusterName="b%d" % i)
arns = []
for page in ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 2}):
    arns += page["clusterArns"]
assert len(arns) == 5, arns
try:
    ecs.describe_task_definition(taskDefinition="missing")
    sys.exit("no error for a missing task definition")
except ecs.exceptions.ClientException as e:
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
try:
    ecs.delete_cluster(cluster="nope")
    sys.exit("no error for a missing cluster")
except ecs.exceptions.ClusterNotFoundException:
    pass
print("ok", len(arns))
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = append(os.Environ(), "AWS_MAX_ATTEMPTS=1")
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok 5" {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
}

func mustJSON(t testing.TB, r cliResult, v any) {
	t.Helper()
	if r.ExitCode != 0 {
		t.Fatalf("aws exited %d: %s", r.ExitCode, r.Stderr)
	}
	if err := json.Unmarshal([]byte(r.Stdout), v); err != nil {
		t.Fatalf("decode aws output: %v\n%s", err, r.Stdout)
	}
}
