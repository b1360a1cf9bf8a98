package elb_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayers: the domain packages, the controllers and the data plane
// nodes depend on no wire code: neither internal/api/* nor the generated
// internal/model/* is among their (non-test) dependencies. The error names
// the package that brings one in.
func TestLayers(t *testing.T) {
	const module = "github.com/flotilla/flotilla"
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`,
		module+"/internal/elb", module+"/internal/cert", module+"/internal/lbnode", module+"/internal/controller/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	wireCode := func(p string) bool {
		for _, w := range []string{module + "/internal/api", module + "/internal/model"} {
			if p == w || strings.HasPrefix(p, w+"/") {
				return true
			}
		}
		return false
	}
	listed := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		listed++
		if wireCode(fields[0]) {
			continue // reported where it is imported from
		}
		for _, imp := range fields[1:] {
			if wireCode(imp) {
				t.Errorf("%s imports %s", fields[0], imp)
			}
		}
	}
	if listed < 5 {
		t.Fatalf("go list listed %d packages:\n%s", listed, out)
	}
}
