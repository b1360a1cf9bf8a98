package acm

import (
	"testing"

	wire "github.com/flotilla/flotilla/internal/model/acm"
)

// TestErrorCodes checks that the service answers only with error codes
// that ACM's model has.
func TestErrorCodes(t *testing.T) {
	known := map[string]bool{}
	for _, op := range wire.Operations {
		for _, code := range op.Errors {
			known[code] = true
		}
	}
	for _, code := range []string{codeValidation, codeInvalidARN, codeInvalidArgs, codeNotFound, codeInUse, codeInvalidTag, codeTooManyTags, codeConflict} {
		if !known[code] {
			t.Errorf("%s is not an error of the ACM model", code)
		}
	}
}
