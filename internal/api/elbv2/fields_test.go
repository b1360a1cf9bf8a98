package elbv2

import (
	"testing"

	"github.com/flotilla/flotilla/internal/api"
)

// TestFieldCoverage walks the inputs of every ELBv2 operation, recursively,
// and fails for any member that fields.go neither lists as handled nor
// refuses, so that a member the model gains cannot be accepted and
// silently dropped.
func TestFieldCoverage(t *testing.T) {
	svc := (&Service{}).QueryService()
	for _, p := range api.CoverageProblems("ELBv2", svc.InputTypes(), handled, svc.Refused) {
		t.Error(p)
	}
}
