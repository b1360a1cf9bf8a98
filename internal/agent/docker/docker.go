// Package docker is the agent.Runtime over Docker's Engine API: it creates,
// runs and watches a task's containers on a local Docker Engine (API 1.41,
// Docker 20.10, or later).
//
// Where the engine's behaviour is richer than the Runtime contract, this
// package narrows it as follows.
//
//   - Pull reports every failure the engine reports (bad reference, unknown
//     registry, repository or tag, denied access, broken download) as
//     ErrNoSuchImage, keeping the engine's message; Create of an image the
//     engine lacks wraps ErrNoSuchImage too.
//   - Statuses: "paused" and "restarting" report as running, "removing" as
//     exited.
//   - Bind mounts use the engine's Binds so that a missing host directory is
//     created, as ECS does for a host volume's sourcePath; the source must be
//     an absolute path and neither path may contain ':'.
//   - Stop of a container that is already gone returns ErrNoSuchContainer;
//     a negative timeout leaves the wait to the container's StopTimeout (or
//     the engine's default of 10 s), a zero one kills at once.
//   - Remove removes running containers too (by force).
//   - Event labels are the container's labels; the engine's own attributes
//     (image, name, exitCode, signal) are dropped.
//   - Logs with follow returns nil when the container stops and ctx's error
//     when ctx ends first.
//   - Stats takes about a second: it asks for one sample without the
//     engine's one-shot flag, so that the engine measures CPU use over an
//     interval as `docker stats` does. Stats of a container that is not
//     running is an error.
package docker

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/flotilla/flotilla/internal/agent"
)

// Options configures a Runtime.
type Options struct {
	// Host is the engine's address, e.g. "unix:///var/run/docker.sock". The
	// empty string means DOCKER_HOST, or the platform's default socket.
	Host string
}

// Runtime drives a Docker Engine. It is safe for concurrent use.
type Runtime struct {
	cli *client.Client
}

var _ agent.Runtime = (*Runtime)(nil)

// New returns a Runtime for the engine opts names, configured like the
// docker CLI from DOCKER_HOST, DOCKER_API_VERSION, DOCKER_CERT_PATH and
// DOCKER_TLS_VERIFY, and negotiating the API version on first use. It does
// not contact the engine.
func New(opts Options) (*Runtime, error) {
	clientOpts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if opts.Host != "" {
		clientOpts = append(clientOpts, client.WithHost(opts.Host))
	}
	cli, err := client.NewClientWithOpts(clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Runtime{cli: cli}, nil
}

// Close releases the connections to the engine.
func (r *Runtime) Close() error {
	return r.cli.Close()
}

// Info describes the engine and its host.
func (r *Runtime) Info(ctx context.Context) (agent.RuntimeInfo, error) {
	v, err := r.cli.ServerVersion(ctx)
	if err != nil {
		return agent.RuntimeInfo{}, fmt.Errorf("engine version: %w", err)
	}
	info, err := r.cli.Info(ctx)
	if err != nil {
		return agent.RuntimeInfo{}, fmt.Errorf("engine info: %w", err)
	}
	return agent.RuntimeInfo{
		Version:      v.Version,
		APIVersion:   v.APIVersion,
		OS:           info.OSType,
		Architecture: info.Architecture,
		NCPU:         info.NCPU,
		MemTotal:     info.MemTotal,
	}, nil
}

// containerErr wraps an engine error about container id, turning "not
// found" into agent.ErrNoSuchContainer.
func containerErr(op, id string, err error) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%s container %s: %w", op, id, agent.ErrNoSuchContainer)
	}
	return fmt.Errorf("%s container %s: %w", op, id, err)
}
