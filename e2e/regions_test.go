package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestRegionsCLI: with the aws CLI, every region a client signs for is
// served with its own resources and ARNs (issue 17.5), ARNs of another
// region or account name nothing (26.3), services Flotilla does not serve
// are named (18.5), and regions keep their resources across a restart.
func TestRegionsCLI(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	// By name: the server's printed environment names its --region.
	us := func(args ...string) cliResult { return s.aws(t, append([]string{"--region", "us-east-1"}, args...)...) }
	eu := func(args ...string) cliResult { return s.aws(t, append([]string{"--region", "eu-west-1"}, args...)...) }

	var created struct{ Cluster struct{ ClusterArn string } }
	mustJSON(t, us("ecs", "create-cluster", "--cluster-name", "east"), &created)
	if created.Cluster.ClusterArn != "arn:aws:ecs:us-east-1:123456789012:cluster/east" {
		t.Fatalf("us-east-1 cluster ARN %s", created.Cluster.ClusterArn)
	}
	eastARN := created.Cluster.ClusterArn
	mustJSON(t, eu("ecs", "create-cluster", "--cluster-name", "west"), &created)
	if created.Cluster.ClusterArn != "arn:aws:ecs:eu-west-1:123456789012:cluster/west" {
		t.Fatalf("eu-west-1 cluster ARN %s", created.Cluster.ClusterArn)
	}
	westARN := created.Cluster.ClusterArn

	checkLists := func(when string) {
		t.Helper()
		var listed struct{ ClusterArns []string }
		mustJSON(t, us("ecs", "list-clusters"), &listed)
		if len(listed.ClusterArns) != 1 || listed.ClusterArns[0] != eastARN {
			t.Fatalf("%s: us-east-1 lists %v", when, listed.ClusterArns)
		}
		mustJSON(t, eu("ecs", "list-clusters"), &listed)
		if len(listed.ClusterArns) != 1 || listed.ClusterArns[0] != westARN {
			t.Fatalf("%s: eu-west-1 lists %v", when, listed.ClusterArns)
		}
	}
	checkLists("before a restart")

	// A task definition registered in one region is not found in the other.
	var reg struct {
		TaskDefinition struct{ TaskDefinitionArn string }
	}
	mustJSON(t, us("ecs", "register-task-definition", "--family", "web", "--container-definitions",
		`[{"name":"app","image":"busybox","memory":64}]`), &reg)
	tdARN := reg.TaskDefinition.TaskDefinitionArn
	if tdARN != "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1" {
		t.Fatalf("task definition ARN %s", tdARN)
	}
	for _, ref := range []string{"web", "web:1", tdARN} {
		r := eu("ecs", "describe-task-definition", "--task-definition", ref)
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "ClientException") {
			t.Fatalf("eu-west-1 describes us-east-1's task definition %s: exit %d %s %s", ref, r.ExitCode, r.Stdout, r.Stderr)
		}
	}

	// Another region's or account's ARN names nothing here.
	var described struct {
		Clusters []struct{ ClusterArn string }
		Failures []struct{ Arn, Reason string }
	}
	for _, arn := range []string{eastARN, strings.Replace(westARN, ":eu-west-1:", ":eu-west-9:", 1), strings.Replace(westARN, ":123456789012:", ":999999999999:", 1)} {
		mustJSON(t, eu("ecs", "describe-clusters", "--clusters", arn), &described)
		if len(described.Clusters) != 0 || len(described.Failures) != 1 || described.Failures[0].Reason != "MISSING" {
			t.Fatalf("eu-west-1 describes %s: %+v", arn, described)
		}
	}
	mustJSON(t, eu("ecs", "describe-clusters", "--clusters", westARN), &described)
	if len(described.Clusters) != 1 {
		t.Fatalf("eu-west-1 does not describe its own cluster: %+v", described)
	}

	// ELBv2 too: a target group's ARN carries its region, and the other
	// region does not find it.
	var tgs struct {
		TargetGroups []struct{ TargetGroupArn string }
	}
	mustJSON(t, eu("elbv2", "create-target-group", "--name", "tg", "--protocol", "HTTP", "--port", "80"), &tgs)
	tgARN := tgs.TargetGroups[0].TargetGroupArn
	if !strings.HasPrefix(tgARN, "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg/") {
		t.Fatalf("target group ARN %s", tgARN)
	}
	if r := us("elbv2", "describe-target-groups", "--target-group-arns", tgARN); r.ExitCode == 0 || !strings.Contains(r.Stderr, "TargetGroupNotFound") {
		t.Fatalf("us-east-1 describes eu-west-1's target group: exit %d %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	mustJSON(t, us("elbv2", "describe-target-groups"), &tgs)
	if len(tgs.TargetGroups) != 0 {
		t.Fatalf("us-east-1 lists %+v", tgs.TargetGroups)
	}

	// ACM too.
	certFile, keyFile := writeCertificate(t, t.TempDir(), "west.example")
	var imported struct{ CertificateArn string }
	mustJSON(t, eu("acm", "import-certificate", "--certificate", "fileb://"+certFile, "--private-key", "fileb://"+keyFile), &imported)
	if !strings.HasPrefix(imported.CertificateArn, "arn:aws:acm:eu-west-1:123456789012:certificate/") {
		t.Fatalf("certificate ARN %s", imported.CertificateArn)
	}
	if r := us("acm", "describe-certificate", "--certificate-arn", imported.CertificateArn); r.ExitCode == 0 || !strings.Contains(r.Stderr, "ResourceNotFoundException") {
		t.Fatalf("us-east-1 describes eu-west-1's certificate: exit %d %s %s", r.ExitCode, r.Stdout, r.Stderr)
	}
	var n int
	mustJSON(t, us("acm", "list-certificates", "--query", "length(CertificateSummaryList || `[]`)"), &n)
	if n != 0 {
		t.Fatalf("us-east-1 lists %d certificates", n)
	}
	mustJSON(t, eu("acm", "list-certificates", "--query", "length(CertificateSummaryList || `[]`)"), &n)
	if n != 1 {
		t.Fatalf("eu-west-1 lists %d certificates", n)
	}

	// Services Flotilla does not serve are named.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dynamodb", "list-tables"}, "Flotilla does not serve Amazon DynamoDB (DynamoDB_20120810) yet."},
		{[]string{"lambda", "list-functions"}, "Flotilla does not serve AWS Lambda (lambda) yet."},
		{[]string{"cloudwatch", "list-metrics"}, "Flotilla does not serve Amazon CloudWatch (monitoring) yet."},
	} {
		if r := us(c.args...); r.ExitCode == 0 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("aws %v: exit %d, stderr %q, want %q", c.args, r.ExitCode, r.Stderr, c.want)
		}
	}

	s.Stop()
	s = startServer(t, dir, "--region", "eu-west-1")
	checkLists("after a restart with another --region")
}

// TestAgentJoinsItsRegion: an agent started with --region registers in,
// and runs the tasks of, its cluster in that region; the cluster of the
// same name in another region gets no instance.
func TestAgentJoinsItsRegion(t *testing.T) {
	s := startServer(t, t.TempDir())
	east := s.ECS()
	west := ecs.New(ecs.Options{Region: "eu-west-1", BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.Env["AWS_ACCESS_KEY_ID"], s.Env["AWS_SECRET_ACCESS_KEY"], "")})
	cluster := newCluster(t, west)
	if _, err := east.CreateCluster(context.Background(), &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatal(err)
	}
	startAgent(t, s, cluster, t.TempDir(), "--region", "eu-west-1")
	arns := waitInstances(t, west, cluster, 1)
	if !strings.HasPrefix(arns[0], "arn:aws:ecs:eu-west-1:123456789012:container-instance/"+cluster+"/") {
		t.Fatalf("instance ARN %s", arns[0])
	}
	td := registerTD(t, west, "regional", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"exit", "-code", "0", "-after", "1s"}})
	arn := runTask(t, west, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td)})
	task := waitTask(t, west, cluster, arn, "STOPPED")
	if ec := task.Containers[0].ExitCode; ec == nil || *ec != 0 {
		t.Fatalf("exit code %v, want 0", ec)
	}
	out, err := east.ListContainerInstances(context.Background(), &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster)})
	if err != nil || len(out.ContainerInstanceArns) != 0 {
		t.Fatalf("us-east-1's cluster %s has instances %v (%v)", cluster, out, err)
	}
}
