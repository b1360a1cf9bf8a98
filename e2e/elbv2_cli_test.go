package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/testport"
)

// TestCLIELBv2 drives the ELBv2 API with the aws CLI, unchanged, and
// boto3: a listener moved with modify-listener is served on its new port
// and no longer on its old one, deletion protection holds a load balancer,
// markers page the Describe operations, and errors carry ELBv2's codes.
func TestCLIELBv2(t *testing.T) {
	s := startServer(t, t.TempDir())

	var lbs struct {
		LoadBalancers []struct {
			LoadBalancerArn, LoadBalancerName string
			State                             struct{ Code string }
		}
	}
	mustJSON(t, s.aws(t, "elbv2", "create-load-balancer", "--name", "front", "--subnets", "subnet-a", "subnet-b"), &lbs)
	if len(lbs.LoadBalancers) != 1 || lbs.LoadBalancers[0].State.Code != "active" {
		t.Fatalf("create-load-balancer: %+v", lbs)
	}
	lbARN := lbs.LoadBalancers[0].LoadBalancerArn

	var listeners struct {
		Listeners []struct {
			ListenerArn string
			Port        int
			Protocol    string
		}
	}
	oldPort, newPort := testport.Free(t), testport.Free(t)
	mustJSON(t, s.aws(t, "elbv2", "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTP", "--port", strconv.Itoa(oldPort),
		"--default-actions", "Type=fixed-response,FixedResponseConfig={StatusCode=200,ContentType=text/plain,MessageBody=hello}"), &listeners)
	listenerARN := listeners.Listeners[0].ListenerArn
	eventually(t, 30*time.Second, func() bool { return httpBody(fmt.Sprintf("http://127.0.0.1:%d/", oldPort)) == "hello" })

	mustJSON(t, s.aws(t, "elbv2", "modify-listener", "--listener-arn", listenerARN, "--port", strconv.Itoa(newPort)), &listeners)
	if l := listeners.Listeners[0]; l.ListenerArn != listenerARN || l.Port != newPort || l.Protocol != "HTTP" {
		t.Fatalf("modify-listener: %+v", listeners.Listeners)
	}
	eventually(t, 30*time.Second, func() bool { return httpBody(fmt.Sprintf("http://127.0.0.1:%d/", newPort)) == "hello" })
	eventually(t, 30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", oldPort), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	res := s.aws(t, "elbv2", "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTP", "--port", strconv.Itoa(newPort),
		"--default-actions", "Type=fixed-response,FixedResponseConfig={StatusCode=404}")
	wantCLIError(t, res, "DuplicateListener")

	// Attributes: ALB's defaults; deletion protection holds the load balancer.
	var attrs struct{ Attributes []struct{ Key, Value string } }
	mustJSON(t, s.aws(t, "elbv2", "describe-load-balancer-attributes", "--load-balancer-arn", lbARN), &attrs)
	got := map[string]string{}
	for _, a := range attrs.Attributes {
		got[a.Key] = a.Value
	}
	if got["idle_timeout.timeout_seconds"] != "60" || got["deletion_protection.enabled"] != "false" || got["routing.http2.enabled"] != "true" {
		t.Fatalf("describe-load-balancer-attributes: %v", got)
	}
	mustJSON(t, s.aws(t, "elbv2", "modify-load-balancer-attributes", "--load-balancer-arn", lbARN,
		"--attributes", "Key=deletion_protection.enabled,Value=true", "Key=idle_timeout.timeout_seconds,Value=120"), &attrs)
	wantCLIError(t, s.aws(t, "elbv2", "delete-load-balancer", "--load-balancer-arn", lbARN), "OperationNotPermitted")
	wantCLIError(t, s.aws(t, "elbv2", "modify-load-balancer-attributes", "--load-balancer-arn", lbARN,
		"--attributes", "Key=idle_timeout.timeout_seconds,Value=0"), "ValidationError")
	mustJSON(t, s.aws(t, "elbv2", "describe-load-balancers", "--names", "front"), &lbs)
	wantCLIError(t, s.aws(t, "elbv2", "describe-load-balancers", "--names", "front", "nope"), "LoadBalancerNotFound")

	// Pages: ELBv2's --page-size shadows the CLI's own, which then leaves
	// the paging to the caller, as against AWS; --max-items pages in the CLI.
	for _, name := range []string{"c", "a", "b"} {
		res := s.aws(t, "elbv2", "create-target-group", "--name", name, "--protocol", "HTTP", "--port", "8080", "--target-type", "ip")
		if res.ExitCode != 0 {
			t.Fatalf("create-target-group %s: %s", name, res.Stderr)
		}
	}
	var names []string
	for marker := ""; ; {
		var tgs struct {
			TargetGroups []struct{ TargetGroupName string }
			NextMarker   string
		}
		args := []string{"elbv2", "describe-target-groups", "--page-size", "1"}
		if marker != "" {
			args = append(args, "--marker", marker)
		}
		mustJSON(t, s.aws(t, args...), &tgs)
		if len(tgs.TargetGroups) != 1 || len(names) > 3 {
			t.Fatalf("describe-target-groups %v: %+v", args, tgs)
		}
		names = append(names, tgs.TargetGroups[0].TargetGroupName)
		if marker = tgs.NextMarker; marker == "" {
			break
		}
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Fatalf("describe-target-groups page by page: %v", names)
	}
	var tgs struct {
		TargetGroups []struct{ TargetGroupName string }
		NextToken    string
	}
	mustJSON(t, s.aws(t, "elbv2", "describe-target-groups", "--max-items", "2"), &tgs)
	if len(tgs.TargetGroups) != 2 || tgs.NextToken == "" {
		t.Fatalf("describe-target-groups --max-items 2: %+v", tgs)
	}
	wantCLIError(t, s.aws(t, "elbv2", "describe-target-groups", "--page-size", "401"), "ValidationError")
	wantCLIError(t, s.aws(t, "elbv2", "describe-target-groups", "--marker", "nope"), "ValidationError")
	// boto3's paginator follows NextMarker.
	script := `
import boto3, os
elbv2 = boto3.client("elbv2", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
pages = list(elbv2.get_paginator("describe_target_groups").paginate(PaginationConfig={"PageSize": 1}))
print(len(pages), ",".join(g["TargetGroupName"] for p in pages for g in p["TargetGroups"]))
try:
    elbv2.describe_load_balancers(Names=["nope"])
except elbv2.exceptions.LoadBalancerNotFoundException:
    print("not found")
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = append(os.Environ(), "AWS_MAX_ATTEMPTS=1")
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "3 a,b,c\nnot found\n" {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	wantCLIError(t, s.aws(t, "elbv2", "describe-target-groups", "--names", "zzz"), "TargetGroupNotFound")

	// Without deletion protection the load balancer goes, its listener with it.
	mustJSON(t, s.aws(t, "elbv2", "modify-load-balancer-attributes", "--load-balancer-arn", lbARN,
		"--attributes", "Key=deletion_protection.enabled,Value=false"), &attrs)
	if res := s.aws(t, "elbv2", "delete-load-balancer", "--load-balancer-arn", lbARN); res.ExitCode != 0 {
		t.Fatalf("delete-load-balancer: %s", res.Stderr)
	}
	wantCLIError(t, s.aws(t, "elbv2", "describe-listeners", "--listener-arns", listenerARN), "ListenerNotFound")
}

// httpBody returns the body of a GET of url, or "" when it failed.
func httpBody(url string) string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// wantCLIError checks that the CLI failed with ELBv2's error code.
func wantCLIError(t *testing.T, res cliResult, code string) {
	t.Helper()
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "("+code+")") {
		t.Fatalf("want error %s: exit %d, stderr %q", code, res.ExitCode, res.Stderr)
	}
}
