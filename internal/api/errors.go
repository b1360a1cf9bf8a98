package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"

	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/model"
)

// Error codes the protocol layer itself answers with. Services add their own
// (ECS's ClusterNotFoundException, ...) through JSONService.MapError.
const (
	// CodeServerException is the only error answered with HTTP 500: a bug, a
	// panic, a failed dependency. Its message never says more than
	// msgServerError.
	CodeServerException = "ServerException"
	// CodeSerialization: the body is not valid JSON, has a member of the wrong
	// type, or is too large.
	CodeSerialization = "SerializationException"
	// CodeUnknownOperation: X-Amz-Target is missing or names no registered
	// service or operation.
	CodeUnknownOperation = "UnknownOperationException"
	// CodeValidation is the default JSONService.ValidationErrorCode.
	CodeValidation = "ValidationException"
	// CodeServiceUnavailable: the server cannot serve the request for now,
	// for the reason its message gives (its disk is full); HTTP 503, which
	// the SDKs retry.
	CodeServiceUnavailable = "ServiceUnavailableException"
)

// msgDiskFull is the reason of a request that failed because the state
// store could not write.
const msgDiskFull = "The server's disk is full, and the change could not be saved. Free space on the volume of the server's data directory, then retry the request."

// msgServerError is all a client learns of an unmapped error.
const msgServerError = "An internal error occurred. Retry the request; if the problem persists, report it with the request ID."

// Error is an error as the client sees it: an AWS error code such as
// "InvalidParameterException", a message, and an HTTP status. Handlers return
// it (directly or wrapped) to answer with exactly that error; errors of other
// types go through the service's MapError table.
type Error struct {
	Code    string
	Message string
	// Status is the HTTP status; 0 means 400, or 500 for ServerException.
	Status int
}

// Errorf returns an *Error with code and a formatted message, answered with
// HTTP 400 (500 for ServerException).
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus returns the status e is answered with.
func (e *Error) HTTPStatus() int {
	switch {
	case e.Status != 0:
		return e.Status
	case e.Code == CodeServerException:
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

// serverError is the ServerException of every unmapped error.
var serverError = &Error{Code: CodeServerException, Message: msgServerError}

// toError turns err into the error the client sees, following one order:
//
//  1. an *Error anywhere in err's chain, as it is;
//  2. a *sigv4.Error, with its code and message;
//  3. a *model.ValidationError, as validationCode with the list of problems;
//  4. context.Canceled or DeadlineExceeded, as a ServerException saying so;
//  5. a full disk (ENOSPC, EDQUOT), as ServiceUnavailableException saying so;
//  6. whatever mapError makes of it, when it returns non-nil;
//  7. otherwise ServerException with a generic message.
//
// internal reports whether the cause must be logged as a server error (5,
// 6 and 7 and any 5xx *Error).
func toError(err error, validationCode string, mapError func(error) *Error) (e *Error, internal bool) {
	var ae *Error
	var se *sigv4.Error
	var ve *model.ValidationError
	switch {
	case errors.As(err, &ae):
		return ae, ae.HTTPStatus() >= 500
	case errors.As(err, &se):
		return &Error{Code: se.Code, Message: se.Message}, false
	case errors.As(err, &ve):
		return &Error{Code: validationCode, Message: validationMessage(ve)}, false
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeServerException, Message: "The request was canceled."}, false
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeServerException, Message: "The request timed out."}, false
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &Error{Code: CodeServiceUnavailable, Message: msgDiskFull, Status: http.StatusServiceUnavailable}, true
	}
	if mapError != nil {
		if me := mapError(err); me != nil {
			return me, me.HTTPStatus() >= 500
		}
	}
	return serverError, true
}

// validationMessage words a validation error as AWS does:
// "2 validation errors detected: cluster is required; count must be ...",
// counting every problem and listing those the error kept (at most
// model.MaxListedErrors).
func validationMessage(ve *model.ValidationError) string {
	n := ve.Count()
	if n == 0 {
		return "1 validation error detected: invalid input"
	}
	plural := "s"
	if n == 1 {
		plural = ""
	}
	return fmt.Sprintf("%d validation error%s detected: %s", n, plural, ve.Error())
}
