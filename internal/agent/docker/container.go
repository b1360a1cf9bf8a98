package docker

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"github.com/flotilla/flotilla/internal/agent"
)

// Create creates (does not start) a container and returns its id. An image
// the engine does not have wraps agent.ErrNoSuchImage.
func (r *Runtime) Create(ctx context.Context, spec agent.ContainerSpec) (string, error) {
	cfg, host, err := containerConfig(spec)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	resp, err := r.cli.ContainerCreate(ctx, cfg, host, nil, nil, spec.Name)
	if err != nil {
		if cerrdefs.IsNotFound(err) && strings.Contains(err.Error(), "No such image") {
			return "", fmt.Errorf("create container %s: %w: %w", spec.Name, agent.ErrNoSuchImage, err)
		}
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	return resp.ID, nil
}

// containerConfig maps spec onto the engine's container and host
// configuration.
func containerConfig(spec agent.ContainerSpec) (*container.Config, *container.HostConfig, error) {
	cfg := &container.Config{
		Image:       spec.Image,
		Entrypoint:  spec.Entrypoint,
		Cmd:         spec.Cmd,
		Env:         spec.Env,
		WorkingDir:  spec.WorkingDir,
		User:        spec.User,
		Labels:      spec.Labels,
		Hostname:    spec.Hostname,
		StopSignal:  spec.StopSignal,
		StopTimeout: seconds(spec.StopTimeout),
	}
	if hc := spec.Healthcheck; hc != nil {
		cfg.Healthcheck = &container.HealthConfig{
			Test:        hc.Test,
			Interval:    hc.Interval,
			Timeout:     hc.Timeout,
			StartPeriod: hc.StartPeriod,
			Retries:     hc.Retries,
		}
	}
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode(spec.NetworkMode),
		Links:       spec.Links,
		ExtraHosts:  spec.ExtraHosts,
		DNS:         spec.DNS,
		DNSSearch:   spec.DNSSearch,
		VolumesFrom: spec.VolumesFrom,
		CapAdd:      spec.CapAdd,
		CapDrop:     spec.CapDrop,
		Privileged:  spec.Privileged,
		Tmpfs:       spec.Tmpfs,
		Sysctls:     spec.Sysctls,
		Resources: container.Resources{
			CPUShares:         spec.CPUShares,
			Memory:            spec.MemoryMiB << 20,
			MemoryReservation: spec.MemoryReservation << 20,
		},
		ReadonlyRootfs: spec.ReadonlyRootfs,
	}
	if spec.Init {
		host.Init = &spec.Init
	}
	for _, u := range spec.Ulimits {
		host.Ulimits = append(host.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}

	// Ports are exposed in every network mode (Inspect reads them back in
	// host mode) but bound only where the container has its own stack.
	ownStack := !host.NetworkMode.IsHost() && !host.NetworkMode.IsNone()
	for _, pb := range spec.PortBindings {
		proto := pb.Protocol
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return nil, nil, fmt.Errorf("port %d: protocol %q is neither tcp nor udp", pb.ContainerPort, pb.Protocol)
		}
		port, err := nat.NewPort(proto, strconv.Itoa(pb.ContainerPort))
		if err != nil {
			return nil, nil, fmt.Errorf("port %d/%s: %w", pb.ContainerPort, proto, err)
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = nat.PortSet{}
		}
		cfg.ExposedPorts[port] = struct{}{}
		if !ownStack {
			continue
		}
		if host.PortBindings == nil {
			host.PortBindings = nat.PortMap{}
		}
		hostPort := ""
		if pb.HostPort != 0 {
			hostPort = strconv.Itoa(pb.HostPort)
		}
		host.PortBindings[port] = append(host.PortBindings[port], nat.PortBinding{HostIP: pb.HostIP, HostPort: hostPort})
	}

	for _, m := range spec.Mounts {
		switch m.Type {
		case "bind":
			if !path.IsAbs(m.Source) || !path.IsAbs(m.Target) || strings.Contains(m.Source+m.Target, ":") {
				return nil, nil, fmt.Errorf("bind mount %q on %q: paths must be absolute and free of ':'", m.Source, m.Target)
			}
			bind := m.Source + ":" + m.Target
			if m.ReadOnly {
				bind += ":ro"
			}
			host.Binds = append(host.Binds, bind)
		case "volume":
			host.Mounts = append(host.Mounts, mount.Mount{
				Type:     mount.TypeVolume,
				Source:   m.Source,
				Target:   m.Target,
				ReadOnly: m.ReadOnly,
			})
		default:
			return nil, nil, fmt.Errorf("mount on %q: type %q is neither bind nor volume", m.Target, m.Type)
		}
	}
	return cfg, host, nil
}

// seconds rounds a positive d up to whole seconds; it returns nil for 0.
func seconds(d time.Duration) *int {
	if d <= 0 {
		return nil
	}
	s := int((d + time.Second - 1) / time.Second)
	return &s
}

// Start starts a created container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	if err := r.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return containerErr("start", id, err)
	}
	return nil
}

// Stop sends the container's stop signal, waits up to timeout (rounded up to
// whole seconds), then kills it. A zero timeout kills at once; a negative one
// waits the container's own StopTimeout. Stopping a stopped container is not
// an error; stopping one that does not exist returns ErrNoSuchContainer.
func (r *Runtime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	var opts container.StopOptions
	if timeout >= 0 {
		s := 0
		if timeout > 0 {
			s = *seconds(timeout)
		}
		opts.Timeout = &s
	}
	if err := r.cli.ContainerStop(ctx, id, opts); err != nil {
		return containerErr("stop", id, err)
	}
	return nil
}

// Remove removes a container, killing it if it runs, and its anonymous
// volumes.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	err := r.cli.ContainerRemove(ctx, id, container.RemoveOptions{RemoveVolumes: true, Force: true})
	if err != nil {
		return containerErr("remove", id, err)
	}
	return nil
}

// Inspect returns a container's state, or ErrNoSuchContainer.
func (r *Runtime) Inspect(ctx context.Context, id string) (agent.ContainerState, error) {
	info, err := r.cli.ContainerInspect(ctx, id)
	if err != nil {
		return agent.ContainerState{}, containerErr("inspect", id, err)
	}
	st, err := containerState(info)
	if err != nil {
		return agent.ContainerState{}, fmt.Errorf("inspect container %s: %w", id, err)
	}
	return st, nil
}

// List returns every container, running or not, carrying all the given
// labels (with the given values).
func (r *Runtime) List(ctx context.Context, labels map[string]string) ([]agent.ContainerState, error) {
	args := filters.NewArgs()
	for k, v := range labels {
		args.Add("label", k+"="+v)
	}
	summaries, err := r.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	states := make([]agent.ContainerState, 0, len(summaries))
	for _, s := range summaries {
		st, err := r.Inspect(ctx, s.ID)
		if errors.Is(err, agent.ErrNoSuchContainer) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		states = append(states, st)
	}
	return states, nil
}

// containerState maps the engine's view of a container onto the contract's.
func containerState(info container.InspectResponse) (agent.ContainerState, error) {
	if info.ContainerJSONBase == nil || info.State == nil || info.Config == nil {
		return agent.ContainerState{}, errors.New("engine answered an incomplete container")
	}
	st := agent.ContainerState{
		ID:        info.ID,
		Name:      strings.TrimPrefix(info.Name, "/"),
		Image:     info.Config.Image,
		Labels:    info.Config.Labels,
		Status:    status(info.State.Status),
		ExitCode:  info.State.ExitCode,
		OOMKilled: info.State.OOMKilled,
		Error:     info.State.Error,
	}
	var err error
	if st.CreatedAt, err = parseTime(info.Created); err != nil {
		return agent.ContainerState{}, err
	}
	if st.StartedAt, err = parseTime(info.State.StartedAt); err != nil {
		return agent.ContainerState{}, err
	}
	if st.FinishedAt, err = parseTime(info.State.FinishedAt); err != nil {
		return agent.ContainerState{}, err
	}
	if h := info.State.Health; h != nil && h.Status != container.NoHealthcheck {
		st.Health = h.Status
	}
	if info.State.Running {
		st.Ports = boundPorts(info)
	}
	return st, nil
}

// status maps the engine's container status onto the contract's four.
func status(s container.ContainerState) string {
	switch s {
	case container.StateRunning, container.StatePaused, container.StateRestarting:
		return agent.StatusRunning
	case container.StateExited, container.StateRemoving:
		return agent.StatusExited
	case container.StateDead:
		return agent.StatusDead
	default:
		return agent.StatusCreated
	}
}

// parseTime parses one of the engine's timestamps; the engine's zero time
// ("0001-01-01T00:00:00Z") and "" become the zero time.Time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	return t, nil
}

// boundPorts lists a running container's published ports. On the host's
// network stack the exposed ports are bound as they are. A binding the
// engine makes on both 0.0.0.0 and :: with one host port appears once, with
// HostIP ""; the engine may pick a different dynamic port for each family,
// and then both appear, 0.0.0.0's first (as ECS reports them, by bindIP).
func boundPorts(info container.InspectResponse) []agent.PortBinding {
	var ports []agent.PortBinding
	if info.HostConfig != nil && info.HostConfig.NetworkMode.IsHost() {
		for p := range info.Config.ExposedPorts {
			ports = append(ports, agent.PortBinding{ContainerPort: p.Int(), HostPort: p.Int(), Protocol: p.Proto()})
		}
	} else if info.NetworkSettings != nil {
		for p, bindings := range info.NetworkSettings.Ports {
			v4, v6 := map[int]bool{}, map[int]bool{}
			for _, b := range bindings {
				if hostPort, err := strconv.Atoi(b.HostPort); err == nil {
					switch b.HostIP {
					case "0.0.0.0":
						v4[hostPort] = true
					case "::":
						v6[hostPort] = true
					}
				}
			}
			for _, b := range bindings {
				hostPort, err := strconv.Atoi(b.HostPort)
				if err != nil {
					continue
				}
				hostIP := b.HostIP
				if (hostIP == "0.0.0.0" && v6[hostPort]) || (hostIP == "::" && v4[hostPort]) {
					hostIP = "" // the same port on every interface
				}
				pb := agent.PortBinding{ContainerPort: p.Int(), HostPort: hostPort, Protocol: p.Proto(), HostIP: hostIP}
				if !slices.Contains(ports, pb) {
					ports = append(ports, pb)
				}
			}
		}
	}
	ipv6 := func(ip string) int {
		if strings.Contains(ip, ":") {
			return 1
		}
		return 0
	}
	slices.SortFunc(ports, func(a, b agent.PortBinding) int {
		if c := a.ContainerPort - b.ContainerPort; c != 0 {
			return c
		}
		if c := strings.Compare(a.Protocol, b.Protocol); c != 0 {
			return c
		}
		if c := ipv6(a.HostIP) - ipv6(b.HostIP); c != 0 {
			return c
		}
		if c := a.HostPort - b.HostPort; c != 0 {
			return c
		}
		return strings.Compare(a.HostIP, b.HostIP)
	})
	return ports
}
