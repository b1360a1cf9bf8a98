package sigv4

import (
	"errors"
	"fmt"
)

// Error codes of the errors Verify returns, as AWS names them. AWS answers all
// of them with HTTP 400.
const (
	// CodeMissingAuthenticationToken: the request carries no Authorization
	// header and no presigned query.
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	// CodeIncompleteSignature: the Authorization header or the presigned query
	// is malformed or lacks a part, or the request has no date.
	CodeIncompleteSignature = "IncompleteSignatureException"
	// CodeUnrecognizedClient: the access key id is unknown.
	CodeUnrecognizedClient = "UnrecognizedClientException"
	// CodeInvalidSignature: the signature does not match, the credential scope
	// is wrong, or the signing time is outside the allowed window.
	CodeInvalidSignature = "InvalidSignatureException"
)

// ErrUnknownAccessKey is returned (possibly wrapped) by Credentials when an
// access key id does not exist.
var ErrUnknownAccessKey = errors.New("sigv4: unknown access key")

// Error is a rejected request: Code is one of the Code constants and Message
// is worded as AWS words it. Both are safe to show to the client.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Messages that do not depend on the request.
var (
	errMissingToken = &Error{Code: CodeMissingAuthenticationToken, Message: "Missing Authentication Token"}
	errUnrecognized = &Error{Code: CodeUnrecognizedClient, Message: "The security token included in the request is invalid."}
	errMismatch     = &Error{Code: CodeInvalidSignature, Message: "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	errPayloadHash = &Error{Code: CodeInvalidSignature, Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	errTwoMethods  = &Error{Code: CodeIncompleteSignature, Message: "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified"}
	errNoHost      = &Error{Code: CodeInvalidSignature, Message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}
)
