package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/flotilla/flotilla/internal/testport"
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
	if j := strings.Index(section, "\n## Running it"); j > 0 {
		section = section[:j]
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 2 {
		t.Fatal("walk-through has fewer than two sh blocks")
	}
	s := startUp(t, t.TempDir(), "--cpu", "2048", "--memory", "2048")
	t.Cleanup(func() { removeContainers(t, "default", s) })
	script := "trap 'echo \"FAILED: $BASH_COMMAND\" >&2' ERR\n"
	for _, b := range blocks {
		script += b[1]
	}
	// The listeners take ports of their own, not the README's: a user who
	// followed the walk-through may still have its load balancer on them.
	for _, port := range []string{"8000", "8443"} {
		if !strings.Contains(script, port) {
			t.Fatalf("the walk-through no longer uses port %s: update this test", port)
		}
		script = regexp.MustCompile(`\b`+port+`\b`).ReplaceAllString(script, strconv.Itoa(testport.Free(t)))
	}
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
	// It ends by deleting what it made: no service, no load balancer.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if n := len(lines); n < 2 || lines[n-2] != "0" || lines[n-1] != "0" {
		t.Errorf("the walk-through's clean-up leaves services or load balancers behind:\n%s", out)
	}
	if len(failed) != 1 || failed[0] != "aws ecs delete-cluster --cluster demo" {
		t.Fatalf("failed commands %q, want only the first delete-cluster\n%s", failed, out)
	}
	for _, want := range []string{"ClusterContainsContainerInstancesException", "host=", "UserInitiated", "done for today",
		"has reached a steady state.", "SUCCESSFUL", "DRAINING", "path=/shop/cart", "no route",
		"HTTPS\tELBSecurityPolicy-2016-08", "path=/shop/secure", "shop.example\tISSUED\t1"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("the walk-through's output lacks %q:\n%s", want, out)
		}
	}
}
