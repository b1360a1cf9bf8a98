package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeWalkthrough runs the README's walk-through block as a user would
// paste it, and checks that exactly the command the README says fails does.
func TestReadmeWalkthrough(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	i := strings.Index(section, "## A walk-through with the aws CLI")
	if i < 0 {
		t.Fatal("README has no walk-through section")
	}
	section = section[i:]
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(section)
	if block == nil {
		t.Fatal("walk-through has no sh block")
	}
	s := startServer(t, t.TempDir())
	script := "trap 'echo \"FAILED: $BASH_COMMAND\" >&2' ERR\n" + block[1]
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = ".."
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1"}
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through script: %v\n%s", err, out)
	}
	var failed []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "FAILED: ") {
			failed = append(failed, strings.TrimPrefix(line, "FAILED: "))
		}
	}
	if len(failed) != 1 || failed[0] != "aws ecs delete-cluster --cluster demo" {
		t.Fatalf("failed commands %q, want only the first delete-cluster\n%s", failed, out)
	}
	if !strings.Contains(string(out), "ClusterContainsContainerInstancesException") {
		t.Fatalf("the README's error example did not show its error:\n%s", out)
	}
}
