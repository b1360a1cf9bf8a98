package ecs

import (
	"testing"

	"github.com/flotilla/flotilla/internal/api"
)

// TestFieldCoverage walks the inputs of every ECS operation, recursively,
// and fails for any member that fields.go neither lists as handled nor
// refuses, so that a member the model gains cannot be accepted and
// silently dropped.
func TestFieldCoverage(t *testing.T) {
	svc := (&Service{}).JSONService()
	for _, p := range api.CoverageProblems("ECS", svc.InputTypes(), handled, svc.Refused) {
		t.Error(p)
	}
}
