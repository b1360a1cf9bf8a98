package elbv2

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
)

// TargetGroupState is what the service controller needs of a target group
// to register its tasks and to tell when they have drained.
type TargetGroupState struct {
	ARN        string
	TargetType string // lb.TargetTypeInstance or lb.TargetTypeIP
	// Targets are the registered targets, each with its port resolved.
	Targets []lb.Target
	// Revision is the store revision the record was last changed at: a
	// data plane node whose applied revision is at least this has every
	// registration and deregistration of the group in effect.
	Revision int64
	// DeregistrationDelay is the group's deregistration_delay.timeout_seconds.
	DeregistrationDelay time.Duration
	// HealthCheckEnabled is false when the group's targets are not checked
	// (their health is then unavailable, and they count as healthy).
	HealthCheckEnabled bool
}

// Has reports whether the group has the target registered.
func (g *TargetGroupState) Has(id string, port int) bool {
	return slices.Contains(g.Targets, lb.Target{ID: id, Port: port})
}

// TargetGroupState returns the state of a target group
// (TargetGroupNotFound when there is none).
func (s *Service) TargetGroupState(ctx context.Context, arn string) (*TargetGroupState, error) {
	rec, rev, err := s.getTargetGroup(ctx, arn)
	if err != nil {
		return nil, err
	}
	g := &TargetGroupState{ARN: rec.ARN, TargetType: rec.TargetType, Revision: rev, HealthCheckEnabled: rec.HealthCheckEnabled}
	if g.TargetType == "" {
		g.TargetType = lb.TargetTypeInstance
	}
	for _, t := range rec.Targets {
		if t.Port == 0 {
			t.Port = rec.Port
		}
		g.Targets = append(g.Targets, lb.Target{ID: t.ID, Port: t.Port})
	}
	delay := lb.DefaultDeregistrationDelay
	if v, ok := rec.Attributes[lb.AttrDeregistrationDelay]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			delay = n
		}
	}
	g.DeregistrationDelay = time.Duration(delay) * time.Second
	return g, nil
}

// TargetGroupLoadBalancers returns the load balancers whose listeners or
// rules forward to a target group (TargetGroupNotFound when there is no
// such group): CreateService requires one.
func (s *Service) TargetGroupLoadBalancers(ctx context.Context, arn string) ([]string, error) {
	rec, _, err := s.getTargetGroup(ctx, arn)
	if err != nil {
		return nil, err
	}
	st, err := readState(ctx, s.store)
	if err != nil {
		return nil, err
	}
	return st.loadBalancersOf()[rec.ARN], nil
}

// RegisterTaskTargets registers targets (ID and port) with a group, as
// RegisterTargets does; the service controller registers its tasks so.
func (s *Service) RegisterTaskTargets(ctx context.Context, arn string, targets []lb.Target) error {
	_, err := s.RegisterTargets(ctx, &wire.RegisterTargetsInput{TargetGroupArn: &arn, Targets: targetDescriptions(targets)})
	return err
}

// DeregisterTaskTargets deregisters targets (ID and port) from a group, as
// DeregisterTargets does.
func (s *Service) DeregisterTaskTargets(ctx context.Context, arn string, targets []lb.Target) error {
	_, err := s.DeregisterTargets(ctx, &wire.DeregisterTargetsInput{TargetGroupArn: &arn, Targets: targetDescriptions(targets)})
	return err
}

func targetDescriptions(targets []lb.Target) []wire.TargetDescription {
	out := make([]wire.TargetDescription, 0, len(targets))
	for _, t := range targets {
		out = append(out, wire.TargetDescription{Id: ptr.To(t.ID), Port: ptr.To(int32(t.Port))})
	}
	return out
}
