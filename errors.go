package flotilla

import (
	"errors"
	"fmt"
)

// Code classifies a domain error. The API layer maps each code to the AWS
// error code of the service being spoken (one table per service).
type Code string

// Domain error codes.
const (
	EInvalid                      Code = "invalid"  // bad input: InvalidParameterException
	EClient                       Code = "client"   // refused for the caller's reasons: ClientException
	EConflict                     Code = "conflict" // idempotency token reused differently: ConflictException
	ELimit                        Code = "limit"    // a quota is reached: LimitExceededException
	EClusterNotFound              Code = "cluster_not_found"
	EClusterContainsServices      Code = "cluster_contains_services"
	EClusterContainsInstances     Code = "cluster_contains_instances"
	EClusterContainsTasks         Code = "cluster_contains_tasks"
	EResourceNotFound             Code = "resource_not_found"
	EResourceInUse                Code = "resource_in_use"
	ETargetNotFound               Code = "target_not_found"
	EAttributeLimitExceeded       Code = "attribute_limit_exceeded"
	EAccessDenied                 Code = "access_denied"
	EUpdateInProgress             Code = "update_in_progress"
	EServiceNotFound              Code = "service_not_found"
	EServiceNotActive             Code = "service_not_active"
	EPlatformUnknown              Code = "platform_unknown"
	EUnsupportedFeature           Code = "unsupported_feature"
	ENamespaceNotFound            Code = "namespace_not_found"
	ETaskSetNotFound              Code = "task_set_not_found"
	EServiceDeploymentNotFound    Code = "service_deployment_not_found"
	EPlatformTaskDefinitionIncomp Code = "platform_task_definition_incompatibility"
)

// Error is a domain error: a code and a message that is safe to show a client.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns a domain error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err when it is or wraps a domain error, and ""
// otherwise.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
