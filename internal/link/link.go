// Package link defines the long-lived connection between an agent and the
// server (ECS's "ACS" session): a WebSocket, opened by the agent at the
// endpoint DiscoverPollEndpoint names and signed with SigV4, on which the
// server sends the full desired set of tasks for the agent's instance and
// both sides send heartbeats. Task and container state flows back through
// the ECS API (SubmitTaskStateChange, SubmitContainerStateChange).
package link

import (
	"encoding/json"
	"time"
)

// Path is the HTTP path of the link endpoint.
const Path = "/v1/agent/link"

// Query parameters of the link request.
const (
	ParamCluster  = "clusterArn"
	ParamInstance = "containerInstanceArn"
	// ParamSeq is the last task-set sequence number the agent applied.
	ParamSeq = "seq"
)

// HeartbeatInterval is how often each side sends a heartbeat; a side that
// hears nothing for DeadAfter closes the connection.
const (
	HeartbeatInterval = 5 * time.Second
	DeadAfter         = 3 * HeartbeatInterval
)

// Message types.
const (
	TypeTasks     = "tasks"     // server → agent: the full desired set
	TypeAck       = "ack"       // agent → server: a task set applied
	TypeHeartbeat = "heartbeat" // both ways
	TypeError     = "error"     // server → agent before closing
	TypeHealth    = "health"    // agent → server: container health of a task
	// TypeCredentials (server → agent, first on every link) carries the
	// instance's own credentials: the agent signs with them from then on,
	// and they allow only the agent operations, on this instance's tasks.
	TypeCredentials = "credentials"
)

// Message is one frame on the link, JSON-encoded.
type Message struct {
	Type string `json:"type"`
	// Seq orders task sets: each set carries the store revision it was read
	// at, so a larger Seq is always a newer set.
	Seq   int64  `json:"seq,omitempty"`
	Tasks []Task `json:"tasks,omitempty"`
	// Message explains an error.
	Message string `json:"message,omitempty"`
	// Credentials carries a TypeCredentials message.
	Credentials *Credentials `json:"credentials,omitempty"`
	// Health carries a TypeHealth report.
	Health *Health `json:"health,omitempty"`
	// Time is the sender's clock.
	Time time.Time `json:"time"`
}

// Health is the health of a task's containers, as Docker's health checks
// report it (ECS's agent sends this over its telemetry session).
type Health struct {
	TaskARN    string            `json:"taskArn"`
	Containers map[string]string `json:"containers"` // name → HEALTHY, UNHEALTHY, UNKNOWN
}

// Task is one task the server wants on the instance. A task stays in the set
// until the agent reports it STOPPED, so a task whose DesiredStatus is
// STOPPED is one to stop; a container of a task absent from the set is one
// to stop and remove.
type Task struct {
	ARN           string `json:"taskArn"`
	Family        string `json:"family"`
	Revision      int    `json:"revision"`
	DesiredStatus string `json:"desiredStatus"`
	// Definition is the task definition in ECS's JSON (the TaskDefinition
	// shape).
	Definition json.RawMessage `json:"taskDefinition"`
	// Overrides is ECS's TaskOverride JSON, when the task has overrides.
	Overrides json.RawMessage `json:"overrides,omitempty"`
	// StopReason is why the server wants the task stopped.
	StopReason string `json:"stopReason,omitempty"`
}

// Credentials is an access key pair.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}
