package elbv2

import (
	"fmt"

	"github.com/flotilla/flotilla/internal/api"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
)

// The errors of the operations, in ELBv2's words. The model's error types
// answer with their own codes and statuses; the API layer passes them on.

func errLoadBalancerNotFound() error {
	return &wire.LoadBalancerNotFoundException{Message: ptr.To("One or more load balancers not found")}
}

func errTargetGroupNotFound() error {
	return &wire.TargetGroupNotFoundException{Message: ptr.To("One or more target groups not found")}
}

func errListenerNotFound() error {
	return &wire.ListenerNotFoundException{Message: ptr.To("One or more listeners not found")}
}

func errRuleNotFound() error {
	return &wire.RuleNotFoundException{Message: ptr.To("One or more rules not found")}
}

func errDuplicateLoadBalancerName() error {
	return &wire.DuplicateLoadBalancerNameException{Message: ptr.To("A load balancer with the same name exists, but with different settings")}
}

func errDuplicateTargetGroupName() error {
	return &wire.DuplicateTargetGroupNameException{Message: ptr.To("A target group with the same name exists, but with different settings")}
}

func errDuplicateListener() error {
	return &wire.DuplicateListenerException{Message: ptr.To("A listener already exists on this port for this load balancer")}
}

func errPriorityInUse(p int) error {
	return &wire.PriorityInUseException{Message: ptr.To(fmt.Sprintf("Priority '%d' is currently in use", p))}
}

func errResourceInUse(format string, args ...any) error {
	return &wire.ResourceInUseException{Message: ptr.To(fmt.Sprintf(format, args...))}
}

func errOperationNotPermitted(format string, args ...any) error {
	return &wire.OperationNotPermittedException{Message: ptr.To(fmt.Sprintf(format, args...))}
}

func errInvalidTarget(format string, args ...any) error {
	return &wire.InvalidTargetException{Message: ptr.To(fmt.Sprintf(format, args...))}
}

func errUnsupportedProtocol(p string) error {
	return &wire.UnsupportedProtocolException{Message: ptr.To(fmt.Sprintf("Protocol '%s' is not supported", p))}
}

func errInvalidConfig(format string, args ...any) error {
	return &wire.InvalidConfigurationRequestException{Message: ptr.To(fmt.Sprintf(format, args...))}
}

// errValidation is ELBv2's ValidationError, for checks beyond the model's.
func errValidation(format string, args ...any) error {
	return api.Errorf(api.CodeValidationError, format, args...)
}
