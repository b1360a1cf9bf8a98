package elbv2

import (
	"reflect"
	"testing"

	"github.com/flotilla/flotilla/internal/api"
)

// TestFieldCoverage walks the inputs of every ELBv2 operation, recursively,
// and fails for any member that fields.go neither lists as handled nor
// refuses, so that a member the model gains cannot be accepted and
// silently dropped.
func TestFieldCoverage(t *testing.T) {
	svc := (&Service{}).QueryService()
	var inputs []reflect.Type
	for _, op := range svc.Operations {
		inputs = append(inputs, op.InputType())
	}
	missing, stale, both := api.Coverage(inputs, handled, svc.Refused)
	for _, m := range missing {
		t.Errorf("%s is neither handled nor refused: honour it and add it to handled, or refuse it, in fields.go", m)
	}
	for _, m := range stale {
		t.Errorf("fields.go lists %s, which is no member of an ELBv2 input", m)
	}
	for _, m := range both {
		t.Errorf("fields.go lists %s as both handled and refused", m)
	}
}
