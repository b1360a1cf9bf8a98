package elb

import (
	"slices"
	"strconv"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
)

// DefaultInstanceAddress is where a container instance is reached when it
// names no address: the host of an instance target, and the ID of an ip
// target.
const DefaultInstanceAddress = "127.0.0.1"

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

// State returns the state of the target group, whose record was last
// changed at store revision rev.
func (r *TargetGroupRecord) State(rev int64) *TargetGroupState {
	g := &TargetGroupState{ARN: r.ARN, TargetType: r.TargetType, Revision: rev, HealthCheckEnabled: r.HealthCheckEnabled}
	if g.TargetType == "" {
		g.TargetType = lb.TargetTypeInstance
	}
	for _, t := range r.Targets {
		if t.Port == 0 {
			t.Port = r.Port
		}
		g.Targets = append(g.Targets, lb.Target{ID: t.ID, Port: t.Port})
	}
	delay := lb.DefaultDeregistrationDelay
	if v, ok := r.Attributes[lb.AttrDeregistrationDelay]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			delay = n
		}
	}
	g.DeregistrationDelay = time.Duration(delay) * time.Second
	return g
}
