package elbv2

import (
	"context"
	"errors"
	"fmt"

	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
)

// The methods the other services use (the service controller's
// TargetGroupState, RegisterTaskTargets and DeregisterTaskTargets, ECS's
// TargetGroupLoadBalancers) answer in the domain's terms: their errors
// wrap elb.ErrTargetGroupNotFound when there is no such group.

// TargetGroupState returns the state of a target group.
func (s *Service) TargetGroupState(ctx context.Context, arn string) (*elb.TargetGroupState, error) {
	rec, rev, err := s.getTargetGroup(ctx, arn)
	if err != nil {
		return nil, domainError(arn, err)
	}
	return rec.State(rev), nil
}

// domainError returns err, or for the wire's TargetGroupNotFound an error
// that wraps elb.ErrTargetGroupNotFound.
func domainError(arn string, err error) error {
	var nf *wire.TargetGroupNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("target group %s: %w", arn, elb.ErrTargetGroupNotFound)
	}
	return err
}

// TargetGroupLoadBalancers returns the load balancers whose listeners or
// rules forward to a target group (an error wrapping
// elb.ErrTargetGroupNotFound when there is no such group): CreateService
// requires one.
func (s *Service) TargetGroupLoadBalancers(ctx context.Context, arn string) ([]string, error) {
	rec, _, err := s.getTargetGroup(ctx, arn)
	if err != nil {
		return nil, domainError(arn, err)
	}
	st, err := elb.ReadState(ctx, s.store)
	if err != nil {
		return nil, err
	}
	return st.LoadBalancersOf()[rec.ARN], nil
}

// RegisterTaskTargets registers targets (ID and port) with a group, as
// RegisterTargets does; the service controller registers its tasks so.
func (s *Service) RegisterTaskTargets(ctx context.Context, arn string, targets []lb.Target) error {
	_, err := s.RegisterTargets(ctx, &wire.RegisterTargetsInput{TargetGroupArn: &arn, Targets: targetDescriptions(targets)})
	return domainError(arn, err)
}

// DeregisterTaskTargets deregisters targets (ID and port) from a group, as
// DeregisterTargets does.
func (s *Service) DeregisterTaskTargets(ctx context.Context, arn string, targets []lb.Target) error {
	_, err := s.DeregisterTargets(ctx, &wire.DeregisterTargetsInput{TargetGroupArn: &arn, Targets: targetDescriptions(targets)})
	return domainError(arn, err)
}

func targetDescriptions(targets []lb.Target) []wire.TargetDescription {
	out := make([]wire.TargetDescription, 0, len(targets))
	for _, t := range targets {
		out = append(out, wire.TargetDescription{Id: ptr.To(t.ID), Port: ptr.To(int32(t.Port))})
	}
	return out
}
