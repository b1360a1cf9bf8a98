package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestEmptyListsCLI checks with the aws CLI that empty lists come back as
// ECS and ELBv2 send them, [] rather than absent, so that --query
// expressions over them work.
func TestEmptyListsCLI(t *testing.T) {
	s := startServer(t, t.TempDir())
	mustJSON(t, s.aws(t, "ecs", "create-cluster", "--cluster-name", "empty"), new(any))
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ecs", "list-tasks", "--cluster", "empty", "--query", "length(taskArns)"}, "0"},
		{[]string{"ecs", "list-services", "--cluster", "empty", "--query", "length(serviceArns)"}, "0"},
		{[]string{"ecs", "list-container-instances", "--cluster", "empty", "--query", "length(containerInstanceArns)"}, "0"},
		{[]string{"ecs", "list-task-definitions", "--query", "length(taskDefinitionArns)"}, "0"},
		{[]string{"ecs", "describe-clusters", "--clusters", "empty", "--query", "length(failures)"}, "0"},
		{[]string{"elbv2", "describe-load-balancers", "--query", "length(LoadBalancers)"}, "0"},
		{[]string{"elbv2", "describe-target-groups", "--query", "length(TargetGroups)"}, "0"},
	} {
		res := s.aws(t, tt.args...)
		if res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != tt.want {
			t.Errorf("aws %s: exit %d, stdout %q, stderr %q; want %s", strings.Join(tt.args, " "), res.ExitCode, res.Stdout, res.Stderr, tt.want)
		}
	}
	// A run-task that places nothing answers tasks: [] beside its failures.
	mustJSON(t, s.aws(t, "ecs", "register-task-definition", "--family", "web",
		"--container-definitions", `[{"name":"web","image":"busybox","memory":64}]`), new(any))
	var run struct {
		Tasks    *[]any
		Failures []struct{ Reason string }
	}
	mustJSON(t, s.aws(t, "ecs", "run-task", "--cluster", "empty", "--task-definition", "web"), &run)
	if run.Tasks == nil || len(*run.Tasks) != 0 || len(run.Failures) == 0 {
		t.Errorf("run-task on an empty cluster: tasks %v, failures %+v; want tasks [] and a failure", run.Tasks, run.Failures)
	}
}

// TestEmptyListsBoto3 checks that boto3 code indexing the lists ECS and
// ELBv2 always send works on an empty cluster, paginators included.
func TestEmptyListsBoto3(t *testing.T) {
	s := startServer(t, t.TempDir())
	script := `
import boto3, os
ecs = boto3.client("ecs", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
elb = boto3.client("elbv2", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
c = "empty"
ecs.create_cluster(clusterName=c)
assert ecs.list_tasks(cluster=c)["taskArns"] == []
assert ecs.list_services(cluster=c)["serviceArns"] == []
assert ecs.list_container_instances(cluster=c)["containerInstanceArns"] == []
pages = [p["taskArns"] for p in ecs.get_paginator("list_tasks").paginate(cluster=c)]
assert pages == [[]], pages
d = ecs.describe_clusters(clusters=[c])
assert d["failures"] == [] and d["clusters"][0]["statistics"] == [], d
ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "busybox", "memory": 64}])
td = ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]
assert td["volumes"] == [] and td["placementConstraints"] == [], td
assert "requiresCompatibilities" not in td, td
cd = td["containerDefinitions"][0]
assert cd["portMappings"] == [] and cd["environment"] == [] and cd["mountPoints"] == [] and cd["volumesFrom"] == [], cd
run = ecs.run_task(cluster=c, taskDefinition="web")
assert run["tasks"] == [] and run["failures"], run
assert elb.describe_load_balancers()["LoadBalancers"] == []
assert elb.describe_target_groups()["TargetGroups"] == []
tg = elb.create_target_group(Name="blue", Protocol="HTTP", Port=8080)["TargetGroups"][0]
assert tg["LoadBalancerArns"] == [], tg
assert elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"] == []
print("ok")
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = append(os.Environ(), "AWS_MAX_ATTEMPTS=1")
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
}
