package flotilla

import (
	"slices"
	"time"
)

// DeploymentInProgressReason is a new deployment's rollout state reason,
// in ECS's words.
const DeploymentInProgressReason = "ECS deployment in progress."

// NewDeploymentID returns a new random deployment ID, 20 hex digits as
// ECS's are (its deployments are "ecs-svc/<id>").
func NewDeploymentID() string { return NewID()[:20] }

// NewDeployment returns a deployment of desired tasks of a task definition,
// made at now: PRIMARY and IN_PROGRESS, as ECS starts every deployment.
func NewDeployment(id, taskDefinitionARN string, desired int, now time.Time) Deployment {
	return Deployment{ID: id, Status: DeploymentPrimary, TaskDefinitionARN: taskDefinitionARN,
		DesiredCount: desired, RolloutState: RolloutInProgress, RolloutStateReason: DeploymentInProgressReason,
		CreatedAt: now, UpdatedAt: now}
}

// StartDeployment makes d the service's PRIMARY deployment, first in its
// list: the PRIMARY deployment before it becomes ACTIVE (updated at
// d.CreatedAt), its tasks to be replaced, and the service's task
// definition becomes d's.
func (s *Service) StartDeployment(d Deployment) {
	for i := range s.Deployments {
		if s.Deployments[i].Status == DeploymentPrimary {
			s.Deployments[i].Status = DeploymentActive
			s.Deployments[i].UpdatedAt = d.CreatedAt
		}
	}
	s.Deployments = slices.Insert(s.Deployments, 0, d)
	s.TaskDefinitionARN = d.TaskDefinitionARN
}

// DefaultDeploymentConfiguration returns ECS's deployment configuration for
// a service of a scheduling strategy that names none: REPLICA 100% minimum
// healthy, 200% maximum; DAEMON 0% and 100%.
func DefaultDeploymentConfiguration(strategy string) DeploymentConfiguration {
	if strategy == SchedulingDaemon {
		return DeploymentConfiguration{MinimumHealthyPercent: 0, MaximumPercent: 100}
	}
	return DeploymentConfiguration{MinimumHealthyPercent: 100, MaximumPercent: 200}
}

// Validate checks a deployment configuration against ECS's rules for the
// scheduling strategy: minimumHealthyPercent from 0 to 100; for REPLICA a
// maximumPercent of at least 100 and above minimumHealthyPercent; for
// DAEMON a maximumPercent of 100.
func (dc DeploymentConfiguration) Validate(strategy string) error {
	switch {
	case dc.MinimumHealthyPercent < 0 || dc.MinimumHealthyPercent > 100:
		return Errorf(EInvalid, "minimumHealthyPercent must be between 0 and 100.")
	case dc.MaximumPercent < 100 && strategy == SchedulingReplica:
		return Errorf(EInvalid, "maximumPercent must be at least 100 for the REPLICA scheduling strategy.")
	case dc.MaximumPercent <= dc.MinimumHealthyPercent && strategy == SchedulingReplica:
		return Errorf(EInvalid, "maximumPercent must be greater than minimumHealthyPercent.")
	case strategy == SchedulingDaemon && dc.MaximumPercent != 100:
		return Errorf(EInvalid, "The daemon scheduling strategy requires a maximumPercent of 100.")
	}
	return nil
}

// CircuitBreakerThreshold returns how many failed tasks trip the deployment
// circuit breaker of a deployment of desired tasks, by ECS's documented
// formula: half the desired count rounded up, at least 3 and at most 200.
func CircuitBreakerThreshold(desired int) int {
	return min(max((desired+1)/2, 3), 200)
}

// Trips reports whether failed consecutive task failures of a deployment
// of desired tasks trip the circuit breaker: it is enabled and failed has
// reached CircuitBreakerThreshold(desired).
func (cb CircuitBreaker) Trips(failed, desired int) bool {
	return cb.Enable && failed >= CircuitBreakerThreshold(desired)
}
