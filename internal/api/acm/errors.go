package acm

import (
	"github.com/flotilla/flotilla/internal/api"
)

// The error codes the operations answer with: the ErrorCode of the model's
// error types (wire.ResourceNotFoundException...).
const (
	codeValidation  = "ValidationException"
	codeInvalidARN  = "InvalidArnException"
	codeInvalidArgs = "InvalidArgsException"
	codeNotFound    = "ResourceNotFoundException"
	codeInUse       = "ResourceInUseException"
	codeInvalidTag  = "InvalidTagException"
	codeTooManyTags = "TooManyTagsException"
	codeConflict    = "ConflictException"
)

func errValidation(format string, args ...any) error {
	return api.Errorf(codeValidation, format, args...)
}

func errInvalidARN(arn string) error {
	return api.Errorf(codeInvalidARN, "String '%s' is not a valid certificate ARN: it must have the form arn:aws:acm:<region>:<account>:certificate/<id>.", arn)
}

func errNotFound(arn string) error {
	return api.Errorf(codeNotFound, "Could not find certificate with arn %s", arn)
}
