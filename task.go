package flotilla

import (
	"encoding/json"
	"time"
)

// Task statuses in ECS's lifecycle order. A task's LastStatus only moves
// forward along this list.
const (
	TaskProvisioning   = "PROVISIONING"
	TaskPending        = "PENDING"
	TaskActivating     = "ACTIVATING"
	TaskRunning        = "RUNNING"
	TaskDeactivating   = "DEACTIVATING"
	TaskStopping       = "STOPPING"
	TaskDeprovisioning = "DEPROVISIONING"
	TaskStopped        = "STOPPED"
)

var taskOrder = map[string]int{
	TaskProvisioning: 1, TaskPending: 2, TaskActivating: 3, TaskRunning: 4,
	TaskDeactivating: 5, TaskStopping: 6, TaskDeprovisioning: 7, TaskStopped: 8,
}

// ValidTaskStatus reports whether s is one of ECS's task statuses.
func ValidTaskStatus(s string) bool { return taskOrder[s] > 0 }

// TaskStatusAfter reports whether status next comes strictly after status
// cur in the lifecycle.
func TaskStatusAfter(next, cur string) bool { return taskOrder[next] > taskOrder[cur] }

// Stop codes, as ECS names them.
const (
	StopTaskFailedToStart        = "TaskFailedToStart"
	StopEssentialContainerExited = "EssentialContainerExited"
	StopUserInitiated            = "UserInitiated"
	StopServiceSchedulerInit     = "ServiceSchedulerInitiated"
	StopSpotInterruption         = "SpotInterruption"
	StopTerminationNotice        = "TerminationNotice"
)

// Container statuses reported for a task's containers.
const (
	ContainerPending = "PENDING"
	ContainerRunning = "RUNNING"
	ContainerStopped = "STOPPED"
)

// Health statuses of tasks and containers.
const (
	HealthHealthy   = "HEALTHY"
	HealthUnhealthy = "UNHEALTHY"
	HealthUnknown   = "UNKNOWN"
)

// NetworkBinding is a container port bound on the host.
type NetworkBinding struct {
	BindIP        string `json:"bindIP"`
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol"`
}

// TaskContainer is one container of a task as the server knows it.
type TaskContainer struct {
	Name              string           `json:"name"`
	ARN               string           `json:"arn"`
	Image             string           `json:"image"`
	RuntimeID         string           `json:"runtimeId,omitempty"`
	LastStatus        string           `json:"lastStatus"`
	ExitCode          *int             `json:"exitCode,omitempty"`
	Reason            string           `json:"reason,omitempty"`
	NetworkBindings   []NetworkBinding `json:"networkBindings,omitempty"`
	HealthStatus      string           `json:"healthStatus,omitempty"`
	Essential         bool             `json:"essential"`
	CPU               int              `json:"cpu"`
	Memory            int              `json:"memory,omitempty"`
	MemoryReservation int              `json:"memoryReservation,omitempty"`
}

// TaskTarget is a load balancer target of a task: in a target group, the
// target's ID (an instance ID or an IP address) and the task's host port.
type TaskTarget struct {
	TargetGroupARN string `json:"targetGroupArn"`
	ID             string `json:"id"`
	Port           int    `json:"port"`
}

// Reservation is what a task holds on its instance while it is not STOPPED.
type Reservation struct {
	CPU       int      `json:"cpu"`
	MemoryMiB int      `json:"memoryMiB"`
	Ports     []string `json:"ports,omitempty"`    // static TCP host ports
	UDPPorts  []string `json:"udpPorts,omitempty"` // static UDP host ports
}

// Task is one run of a task definition on a container instance.
type Task struct {
	ID                string          `json:"id"`
	ARN               string          `json:"arn"`
	Cluster           string          `json:"cluster"`
	TaskDefinitionARN string          `json:"taskDefinitionArn"`
	Family            string          `json:"family"`
	Revision          int             `json:"revision"`
	InstanceID        string          `json:"instanceId"`
	InstanceARN       string          `json:"instanceArn"`
	LastStatus        string          `json:"lastStatus"`
	DesiredStatus     string          `json:"desiredStatus"`
	LaunchType        string          `json:"launchType"`
	CPU               string          `json:"cpu,omitempty"`
	Memory            string          `json:"memory,omitempty"`
	Containers        []TaskContainer `json:"containers"`
	Overrides         json.RawMessage `json:"overrides,omitempty"`
	Group             string          `json:"group,omitempty"`
	StartedBy         string          `json:"startedBy,omitempty"`
	Tags              []Tag           `json:"tags,omitempty"`
	StopCode          string          `json:"stopCode,omitempty"`
	StoppedReason     string          `json:"stoppedReason,omitempty"`
	HealthStatus      string          `json:"healthStatus"`
	Reservation       Reservation     `json:"reservation"`
	// Targets are the load balancer targets the service controller
	// registers for the task, recorded before they are registered. A task
	// with targets that is asked to stop while RUNNING first goes to
	// DEACTIVATING, while its targets drain, as in ECS.
	Targets []TaskTarget `json:"targets,omitempty"`
	// Version counts changes to the task, as ECS's version field does.
	Version int64 `json:"version"`

	CreatedAt          time.Time `json:"createdAt"`
	PullStartedAt      time.Time `json:"pullStartedAt,omitzero"`
	PullStoppedAt      time.Time `json:"pullStoppedAt,omitzero"`
	StartedAt          time.Time `json:"startedAt,omitzero"`
	StoppingAt         time.Time `json:"stoppingAt,omitzero"`
	StoppedAt          time.Time `json:"stoppedAt,omitzero"`
	ExecutionStoppedAt time.Time `json:"executionStoppedAt,omitzero"`
}

// TasksPrefix is the store prefix of all tasks.
const TasksPrefix = "/ecs/tasks/"

// TaskKey is the store key of a task.
func TaskKey(cluster, id string) string { return TasksPrefix + cluster + "/" + id }

// ClusterTasksPrefix is the store prefix of one cluster's tasks.
func ClusterTasksPrefix(cluster string) string { return TasksPrefix + cluster + "/" }

// TaskARN is the ARN of a task in the long format.
func (a Account) TaskARN(cluster, id string) string { return a.ARN("task/" + cluster + "/" + id) }

// ContainerARN is the ARN of a task's container.
func (a Account) ContainerARN(cluster, taskID, name string) string {
	return a.ARN("container/" + cluster + "/" + taskID + "/" + name)
}

// StoppedTaskRetention is how long a STOPPED task stays describable.
const StoppedTaskRetention = time.Hour
