package e2e

import (
	"strings"
	"testing"
)

// awsV2 is Debian's aws CLI v2 (2.9 on Debian 12), which make deps installs.
const awsV2 = "/usr/bin/aws"

// TestCLIv2 drives ECS, ELBv2 and ACM with Debian's aws CLI v2, which
// speaks older wire protocols than the v1 on PATH and, before 2.13,
// ignores AWS_ENDPOINT_URL: it is given --endpoint-url.
func TestCLIv2(t *testing.T) {
	if res := runCLI(t, awsV2, nil, "--version"); res.ExitCode != 0 || !strings.HasPrefix(res.Stdout+res.Stderr, "aws-cli/2.") {
		t.Fatalf("%s --version: exit %d, %q %q (make deps installs Debian's awscli)", awsV2, res.ExitCode, res.Stdout, res.Stderr)
	}
	s := startServer(t, t.TempDir())
	v2 := func(args ...string) cliResult {
		t.Helper()
		res := runCLI(t, awsV2, s.Env, append([]string{"--endpoint-url", s.Env["AWS_ENDPOINT_URL"]}, args...)...)
		if res.ExitCode != 0 {
			t.Fatalf("aws v2 %v: exit %d\n%s", args, res.ExitCode, res.Stderr)
		}
		return res
	}

	v2("ecs", "create-cluster", "--cluster-name", "v2")
	var clusters struct{ ClusterArns []string }
	mustJSON(t, v2("ecs", "list-clusters"), &clusters)
	if len(clusters.ClusterArns) != 1 || !strings.HasSuffix(clusters.ClusterArns[0], ":cluster/v2") {
		t.Fatalf("list-clusters: %v", clusters.ClusterArns)
	}
	var tasks struct{ TaskArns []string }
	mustJSON(t, v2("ecs", "list-tasks", "--cluster", "v2"), &tasks)
	if tasks.TaskArns == nil || len(tasks.TaskArns) != 0 {
		t.Fatalf("list-tasks on an empty cluster: %#v, want an empty list", tasks.TaskArns)
	}
	v2("ecs", "register-task-definition", "--cli-input-json", "file://../examples/web.json")
	var td struct{ TaskDefinition struct{ Family string } }
	mustJSON(t, v2("ecs", "describe-task-definition", "--task-definition", "web"), &td)
	if td.TaskDefinition.Family != "web" {
		t.Fatalf("describe-task-definition: %+v", td)
	}

	// ELBv2 is the query protocol.
	var lbs struct {
		LoadBalancers []struct{ LoadBalancerArn string }
	}
	mustJSON(t, v2("elbv2", "create-load-balancer", "--name", "front-v2"), &lbs)
	if len(lbs.LoadBalancers) != 1 {
		t.Fatalf("create-load-balancer: %+v", lbs)
	}
	var tgs struct {
		TargetGroups []struct{ TargetGroupArn string }
	}
	mustJSON(t, v2("elbv2", "create-target-group", "--name", "tg-v2", "--protocol", "HTTP", "--port", "8080", "--target-type", "ip"), &tgs)
	if len(tgs.TargetGroups) != 1 {
		t.Fatalf("create-target-group: %+v", tgs)
	}
	var desc struct {
		TargetGroups []struct{ TargetGroupName string }
	}
	mustJSON(t, v2("elbv2", "describe-target-groups", "--names", "tg-v2"), &desc)
	if len(desc.TargetGroups) != 1 || desc.TargetGroups[0].TargetGroupName != "tg-v2" {
		t.Fatalf("describe-target-groups: %+v", desc)
	}
	v2("elbv2", "delete-target-group", "--target-group-arn", tgs.TargetGroups[0].TargetGroupArn)
	v2("elbv2", "delete-load-balancer", "--load-balancer-arn", lbs.LoadBalancers[0].LoadBalancerArn)

	var certs struct{ CertificateSummaryList []any }
	mustJSON(t, v2("acm", "list-certificates"), &certs)
	if certs.CertificateSummaryList == nil {
		t.Fatalf("list-certificates: no CertificateSummaryList")
	}

	// Errors are AWS's, as v2 prints them.
	res := runCLI(t, awsV2, s.Env, "--endpoint-url", s.Env["AWS_ENDPOINT_URL"], "ecs", "describe-services", "--cluster", "nope", "--services", "x")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "ClusterNotFoundException") {
		t.Fatalf("describe-services in a missing cluster: exit %d, %q", res.ExitCode, res.Stderr)
	}
}
