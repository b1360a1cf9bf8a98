// Package agent is Flotilla's container agent: it registers its host as a
// container instance, keeps a long-lived link to the server from which it
// receives the full set of tasks the instance should run, runs their
// containers through a Runtime (Docker's Engine API in production), and
// reports task and container state changes back.
package agent

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNoSuchContainer is returned by Runtime methods given an unknown id.
var ErrNoSuchContainer = errors.New("runtime: no such container")

// ErrNoSuchImage is returned by Pull when the image cannot be found or
// pulled (CannotPullContainerError in ECS's words).
var ErrNoSuchImage = errors.New("runtime: no such image")

// Runtime is the container engine the agent drives. Implementations must be
// safe for concurrent use. Every method that names a container takes the
// runtime's container id.
type Runtime interface {
	// Info describes the engine and its host.
	Info(ctx context.Context) (RuntimeInfo, error)
	// ImagePresent reports whether image is available locally.
	ImagePresent(ctx context.Context, image string) (bool, error)
	// Pull fetches image; auth may be nil. An image that cannot be had wraps
	// ErrNoSuchImage.
	Pull(ctx context.Context, image string, auth *RegistryAuth) error
	// Create creates (does not start) a container and returns its id.
	Create(ctx context.Context, spec ContainerSpec) (string, error)
	// Start starts a created container.
	Start(ctx context.Context, id string) error
	// Stop sends the container's stop signal (SIGTERM), waits up to timeout,
	// then kills it. Stopping a stopped container is not an error.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Remove removes a container and its anonymous volumes.
	Remove(ctx context.Context, id string) error
	// Inspect returns a container's state, or ErrNoSuchContainer.
	Inspect(ctx context.Context, id string) (ContainerState, error)
	// List returns every container (running or not) carrying all the given
	// labels.
	List(ctx context.Context, labels map[string]string) ([]ContainerState, error)
	// Events streams container events (start, die, oom, health_status) until
	// ctx ends; the error channel receives one error if the stream breaks.
	Events(ctx context.Context) (<-chan Event, <-chan error)
	// Logs copies a container's stdout and stderr to w, following new output
	// until ctx ends when follow is set.
	Logs(ctx context.Context, id string, w io.Writer, follow bool) error
	// Stats returns one sample of a running container's resource use.
	Stats(ctx context.Context, id string) (Stats, error)
}

// RuntimeInfo describes the engine and the host it runs on.
type RuntimeInfo struct {
	Version      string // engine version, e.g. "20.10.24"
	APIVersion   string
	OS           string // "linux"
	Architecture string // "x86_64" / "aarch64" as the engine reports it
	NCPU         int
	MemTotal     int64 // bytes
}

// RegistryAuth is the credential for a private registry (ECS's
// repositoryCredentials, resolved).
type RegistryAuth struct {
	Username, Password, ServerAddress string
}

// ContainerSpec is everything needed to create one container of a task.
type ContainerSpec struct {
	Name       string // the runtime's container name; must be unique on the host
	Image      string
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=value
	WorkingDir string
	User       string
	Labels     map[string]string
	Hostname   string

	CPUShares         int64 // relative weight; 0 means the engine's default
	MemoryMiB         int64 // hard limit; 0 means none
	MemoryReservation int64 // soft limit in MiB; 0 means none

	NetworkMode  string // "bridge" (default), "host", "none"
	PortBindings []PortBinding
	Links        []string // "container:alias" (bridge only)
	ExtraHosts   []string // "host:ip"
	DNS          []string
	DNSSearch    []string

	Mounts      []Mount
	VolumesFrom []string // container ids, optionally ":ro"

	Ulimits        []Ulimit
	CapAdd         []string
	CapDrop        []string
	Init           bool
	ReadonlyRootfs bool
	Privileged     bool
	Tmpfs          map[string]string
	Sysctls        map[string]string

	Healthcheck *Healthcheck
	StopTimeout time.Duration // 0 means the engine's default
	StopSignal  string
}

// PortBinding maps a container port to a host port. HostPort 0 asks for a
// dynamic port from the ephemeral range; after start, ContainerState.Ports
// carries the port actually bound.
type PortBinding struct {
	ContainerPort int
	HostPort      int
	Protocol      string // "tcp" or "udp"
	HostIP        string // "" means all interfaces
}

// Mount is a bind mount (Type "bind", Source a host path) or a named volume
// (Type "volume", Source the volume name, created on demand).
type Mount struct {
	Type     string
	Source   string
	Target   string
	ReadOnly bool
}

// Ulimit is one resource limit.
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// Healthcheck is a container health check (Docker's, from ECS's healthCheck).
type Healthcheck struct {
	Test        []string // ["CMD", ...] or ["CMD-SHELL", "..."]
	Interval    time.Duration
	Timeout     time.Duration
	Retries     int
	StartPeriod time.Duration
}

// Container statuses as ContainerState.Status reports them.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusExited  = "exited"
	StatusDead    = "dead"
)

// Health statuses as ContainerState.Health reports them ("" when the
// container has no health check).
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// ContainerState is what the runtime knows about a container.
type ContainerState struct {
	ID         string
	Name       string
	Image      string
	Labels     map[string]string
	Status     string // StatusCreated, StatusRunning, StatusExited, StatusDead
	ExitCode   int
	OOMKilled  bool
	Error      string // the engine's error, e.g. a failed start
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	Health     string
	Ports      []PortBinding // bound ports of a running container
}

// Event is a container event.
type Event struct {
	ID     string
	Action string // "start", "die", "oom", "health_status"
	Labels map[string]string
	Time   time.Time
}

// Stats is one sample of a container's resource use.
type Stats struct {
	Time          time.Time
	CPUPercent    float64 // of one core, as `docker stats` computes it
	MemoryBytes   int64
	MemoryLimit   int64
	CPUTotalNanos uint64
}
