package flotilla

import (
	"math"
	"time"
)

// Service statuses.
const (
	ServiceActive   = "ACTIVE"
	ServiceDraining = "DRAINING"
	ServiceInactive = "INACTIVE"
)

// Scheduling strategies of a service.
const (
	SchedulingReplica = "REPLICA"
	SchedulingDaemon  = "DAEMON"
)

// Deployment statuses and rollout states.
const (
	DeploymentPrimary  = "PRIMARY"
	DeploymentActive   = "ACTIVE"
	DeploymentInactive = "INACTIVE"

	RolloutInProgress = "IN_PROGRESS"
	RolloutCompleted  = "COMPLETED"
	RolloutFailed     = "FAILED"
)

// CircuitBreaker is a service's deployment circuit breaker.
type CircuitBreaker struct {
	Enable   bool `json:"enable"`
	Rollback bool `json:"rollback"`
}

// DeploymentConfiguration bounds a rolling deployment.
type DeploymentConfiguration struct {
	MinimumHealthyPercent int            `json:"minimumHealthyPercent"`
	MaximumPercent        int            `json:"maximumPercent"`
	CircuitBreaker        CircuitBreaker `json:"circuitBreaker"`
}

// Deployment is one version of a service's tasks being rolled out or run.
// Tasks of a deployment carry StartedBy "ecs-svc/<deployment id>".
type Deployment struct {
	ID                 string    `json:"id"`
	Status             string    `json:"status"`
	TaskDefinitionARN  string    `json:"taskDefinitionArn"`
	DesiredCount       int       `json:"desiredCount"`
	RunningCount       int       `json:"runningCount"`
	PendingCount       int       `json:"pendingCount"`
	FailedTasks        int       `json:"failedTasks"`
	RolloutState       string    `json:"rolloutState"`
	RolloutStateReason string    `json:"rolloutStateReason,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
}

// PlacementConstraint is one of ECS's placement constraints: distinctInstance,
// or memberOf with a cluster query language expression. Its JSON is ECS's
// (the fields in the order ECS's API model has them, as services have
// always been stored).
type PlacementConstraint struct {
	Expression string `json:"expression,omitempty"`
	Type       string `json:"type,omitempty"`
}

// PlacementStrategy is one of ECS's placement strategies: binpack on cpu or
// memory, spread on instanceId, host or attribute:<name>, or random. Its
// JSON is ECS's.
type PlacementStrategy struct {
	Field string `json:"field,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ServiceLoadBalancer is one of a service's loadBalancers: the target group
// its tasks are registered in, at the host port of a container port of one
// of their containers. Its JSON is ECS's.
type ServiceLoadBalancer struct {
	ContainerName  string `json:"containerName,omitempty"`
	ContainerPort  int    `json:"containerPort"`
	TargetGroupARN string `json:"targetGroupArn,omitempty"`
}

// ServiceEvent is one line of a service's event log.
type ServiceEvent struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	Message   string    `json:"message"`
}

// Service keeps DesiredCount copies of a task definition running (REPLICA)
// or one on each instance (DAEMON).
type Service struct {
	Name                          string                  `json:"name"`
	ARN                           string                  `json:"arn"`
	Cluster                       string                  `json:"cluster"`
	Status                        string                  `json:"status"`
	SchedulingStrategy            string                  `json:"schedulingStrategy"`
	DesiredCount                  int                     `json:"desiredCount"`
	TaskDefinitionARN             string                  `json:"taskDefinitionArn"`
	DeploymentConfiguration       DeploymentConfiguration `json:"deploymentConfiguration"`
	PlacementConstraints          []PlacementConstraint   `json:"placementConstraints,omitempty"`
	PlacementStrategy             []PlacementStrategy     `json:"placementStrategy,omitempty"`
	HealthCheckGracePeriodSeconds int                     `json:"healthCheckGracePeriodSeconds"`
	LoadBalancers                 []ServiceLoadBalancer   `json:"loadBalancers,omitempty"`
	Deployments                   []Deployment            `json:"deployments"`
	// History holds deployments that are over (newest first, at most
	// MaxDeploymentHistory), for ListServiceDeployments.
	History []Deployment `json:"history,omitempty"`
	// ClientToken is CreateService's idempotency token.
	ClientToken string         `json:"clientToken,omitempty"`
	Events      []ServiceEvent `json:"events,omitempty"` // newest first, at most MaxServiceEvents
	Tags        []Tag          `json:"tags,omitempty"`
	CreatedAt   time.Time      `json:"createdAt"`
	CreatedBy   string         `json:"createdBy,omitempty"`
	Version     int64          `json:"version"`
}

// MaxDeploymentHistory is how many finished deployments a service keeps.
const MaxDeploymentHistory = 20

// MaxServiceEvents is how many events a service keeps.
const MaxServiceEvents = 100

// ServicesPrefix is the store prefix of all services.
const ServicesPrefix = "/ecs/services/"

// ServiceKey is the store key of a service.
func ServiceKey(cluster, name string) string { return ServicesPrefix + cluster + "/" + name }

// ServiceARN is the ARN of a service in the long format.
func (a Account) ServiceARN(cluster, name string) string {
	return a.ARN("service/" + cluster + "/" + name)
}

// ServiceGroup is the task group of a service's tasks.
func ServiceGroup(name string) string { return "service:" + name }

// DeploymentStartedBy is the startedBy of a deployment's tasks.
func DeploymentStartedBy(deploymentID string) string { return "ecs-svc/" + deploymentID }

// ServiceDeploymentARN is the ARN of one deployment of a service.
func (a Account) ServiceDeploymentARN(cluster, service, id string) string {
	return a.ARN("service-deployment/" + cluster + "/" + service + "/" + id)
}

// Ranges of a service's settings, as ECS documents them.
const (
	// MaxDesiredCount is ECS's quota of tasks per service.
	MaxDesiredCount = 5000
	// MaxHealthCheckGracePeriodSeconds is the longest health check grace
	// period ECS accepts (about 69 years).
	MaxHealthCheckGracePeriodSeconds = math.MaxInt32
)

// ValidateDesiredCount checks a service's desired count against ECS's
// range: 0 to the quota of tasks per service.
func ValidateDesiredCount(n int64) error {
	if n < 0 || n > MaxDesiredCount {
		return Errorf(EInvalid, "desiredCount must be between 0 and %d, the quota of tasks per service; it is %d.", MaxDesiredCount, n)
	}
	return nil
}

// ValidateHealthCheckGracePeriod checks a service's
// healthCheckGracePeriodSeconds against ECS's range.
func ValidateHealthCheckGracePeriod(seconds int64) error {
	if seconds < 0 || seconds > MaxHealthCheckGracePeriodSeconds {
		return Errorf(EInvalid, "healthCheckGracePeriodSeconds must be between 0 and %d; it is %d.", MaxHealthCheckGracePeriodSeconds, seconds)
	}
	return nil
}
