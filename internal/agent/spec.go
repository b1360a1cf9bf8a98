package agent

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
)

// Labels every container the agent starts carries, as ECS's agent sets them,
// plus the instance that owns it.
const (
	LabelCluster        = "com.amazonaws.ecs.cluster"
	LabelTaskARN        = "com.amazonaws.ecs.task-arn"
	LabelContainerName  = "com.amazonaws.ecs.container-name"
	LabelFamily         = "com.amazonaws.ecs.task-definition-family"
	LabelFamilyRevision = "com.amazonaws.ecs.task-definition-version"
	LabelInstance       = "io.flotilla.container-instance"
)

// defaultStopTimeout is ECS's default time between SIGTERM and SIGKILL.
const defaultStopTimeout = 30 * time.Second

// defaultStartTimeout is how long a container waits for its dependencies.
const defaultStartTimeout = 3 * time.Minute

// containerSpec turns a container definition (with the task's overrides)
// into what the runtime creates. ids maps container names of the task to
// runtime ids, for volumesFrom.
func (r *taskRunner) containerSpec(c *wire.ContainerDefinition, ids map[string]string) (ContainerSpec, error) {
	name := ptr.Deref(c.Name)
	if ptr.Deref(c.Privileged) && !r.a.cfg.AllowPrivileged {
		return ContainerSpec{}, fmt.Errorf("CannotCreateContainerError: privileged containers are not allowed on this container instance")
	}
	var ov *wire.ContainerOverride
	if r.overrides != nil {
		for i := range r.overrides.ContainerOverrides {
			if ptr.Deref(r.overrides.ContainerOverrides[i].Name) == name {
				ov = &r.overrides.ContainerOverrides[i]
			}
		}
	}
	mode := string(r.def.NetworkMode)
	if mode == "" {
		mode = "bridge"
	}
	spec := ContainerSpec{
		Name:           fmt.Sprintf("ecs-%s-%d-%s-%s", r.ts.Family, r.ts.Revision, name, r.id[:12]),
		Image:          ptr.Deref(c.Image),
		Entrypoint:     c.EntryPoint,
		Cmd:            c.Command,
		WorkingDir:     ptr.Deref(c.WorkingDirectory),
		User:           ptr.Deref(c.User),
		Hostname:       ptr.Deref(c.Hostname),
		NetworkMode:    mode,
		Links:          c.Links,
		DNS:            c.DnsServers,
		DNSSearch:      c.DnsSearchDomains,
		ReadonlyRootfs: ptr.Deref(c.ReadonlyRootFilesystem),
		Privileged:     ptr.Deref(c.Privileged),
		StopTimeout:    stopTimeout(c),
		Labels: map[string]string{
			LabelCluster: r.a.clusterARN, LabelTaskARN: r.ts.ARN, LabelContainerName: name,
			LabelFamily: r.ts.Family, LabelFamilyRevision: fmt.Sprint(r.ts.Revision), LabelInstance: r.a.instanceARN,
		},
	}
	for k, v := range c.DockerLabels {
		if _, reserved := spec.Labels[k]; !reserved {
			spec.Labels[k] = v
		}
	}
	if mode == "none" {
		spec.Hostname = ""
	}
	cpu := int64(ptr.Deref(c.Cpu))
	mem, res := int64(ptr.Deref(c.Memory)), int64(ptr.Deref(c.MemoryReservation))
	env := map[string]string{}
	var order []string
	setEnv := func(kvs []wire.KeyValuePair) {
		for _, kv := range kvs {
			k := ptr.Deref(kv.Name)
			if _, ok := env[k]; !ok {
				order = append(order, k)
			}
			env[k] = ptr.Deref(kv.Value)
		}
	}
	setEnv(c.Environment)
	if ov != nil {
		if ov.Command != nil {
			spec.Cmd = ov.Command
		}
		setEnv(ov.Environment)
		if ov.Cpu != nil {
			cpu = int64(*ov.Cpu)
		}
		if ov.Memory != nil {
			mem = int64(*ov.Memory)
		}
		if ov.MemoryReservation != nil {
			res = int64(*ov.MemoryReservation)
		}
	}
	for _, k := range order {
		spec.Env = append(spec.Env, k+"="+env[k])
	}
	// ECS gives a container with no cpu the minimum of two shares.
	spec.CPUShares = max(cpu, 2)
	spec.MemoryMiB, spec.MemoryReservation = mem, res
	for _, pm := range c.PortMappings {
		if pm.ContainerPort == nil {
			continue
		}
		proto := string(pm.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		spec.PortBindings = append(spec.PortBindings, PortBinding{ContainerPort: int(*pm.ContainerPort), HostPort: int(ptr.Deref(pm.HostPort)), Protocol: proto})
	}
	for _, h := range c.ExtraHosts {
		spec.ExtraHosts = append(spec.ExtraHosts, ptr.Deref(h.Hostname)+":"+ptr.Deref(h.IpAddress))
	}
	for _, u := range c.Ulimits {
		spec.Ulimits = append(spec.Ulimits, Ulimit{Name: string(u.Name), Soft: int64(ptr.Deref(u.SoftLimit)), Hard: int64(ptr.Deref(u.HardLimit))})
	}
	if lp := c.LinuxParameters; lp != nil {
		if lp.Capabilities != nil {
			spec.CapAdd, spec.CapDrop = lp.Capabilities.Add, lp.Capabilities.Drop
		}
		spec.Init = ptr.Deref(lp.InitProcessEnabled)
		for _, t := range lp.Tmpfs {
			if spec.Tmpfs == nil {
				spec.Tmpfs = map[string]string{}
			}
			spec.Tmpfs[ptr.Deref(t.ContainerPath)] = fmt.Sprintf("size=%dm", ptr.Deref(t.Size))
		}
	}
	for _, sc := range c.SystemControls {
		if spec.Sysctls == nil {
			spec.Sysctls = map[string]string{}
		}
		spec.Sysctls[ptr.Deref(sc.Namespace)] = ptr.Deref(sc.Value)
	}
	for _, mp := range c.MountPoints {
		m, err := r.mount(ptr.Deref(mp.SourceVolume))
		if err != nil {
			return spec, err
		}
		m.Target, m.ReadOnly = ptr.Deref(mp.ContainerPath), ptr.Deref(mp.ReadOnly)
		spec.Mounts = append(spec.Mounts, m)
	}
	for _, vf := range c.VolumesFrom {
		id := ids[ptr.Deref(vf.SourceContainer)]
		if id == "" {
			return spec, fmt.Errorf("CannotCreateContainerError: volumesFrom container %s is not created", ptr.Deref(vf.SourceContainer))
		}
		if ptr.Deref(vf.ReadOnly) {
			id += ":ro"
		}
		spec.VolumesFrom = append(spec.VolumesFrom, id)
	}
	if hc := c.HealthCheck; hc != nil && len(hc.Command) > 0 && hc.Command[0] != "NONE" {
		spec.Healthcheck = &Healthcheck{
			Test:        hc.Command,
			Interval:    seconds(hc.Interval, 30),
			Timeout:     seconds(hc.Timeout, 5),
			Retries:     int(orDefault(hc.Retries, 3)),
			StartPeriod: seconds(hc.StartPeriod, 0),
		}
	}
	return spec, nil
}

// mount resolves a task volume: a host path is bound, a Docker volume is
// named (per task unless its scope is shared), and a volume with neither is
// an empty directory the agent keeps for the task.
func (r *taskRunner) mount(volume string) (Mount, error) {
	for _, v := range r.def.Volumes {
		if ptr.Deref(v.Name) != volume {
			continue
		}
		switch {
		case v.Host != nil && ptr.Deref(v.Host.SourcePath) != "":
			return Mount{Type: "bind", Source: ptr.Deref(v.Host.SourcePath)}, nil
		case v.DockerVolumeConfiguration != nil:
			name := volume
			if v.DockerVolumeConfiguration.Scope != wire.ScopeShared {
				name = "ecs-" + r.id[:12] + "-" + volume
			}
			return Mount{Type: "volume", Source: name}, nil
		default:
			return Mount{Type: "bind", Source: filepath.Join(r.a.cfg.DataDir, "volumes", r.id, volume)}, nil
		}
	}
	return Mount{}, fmt.Errorf("CannotCreateContainerError: volume %s is not defined in the task definition", volume)
}

func stopTimeout(c *wire.ContainerDefinition) time.Duration {
	if c.StopTimeout != nil && *c.StopTimeout > 0 {
		return time.Duration(*c.StopTimeout) * time.Second
	}
	return defaultStopTimeout
}

func startTimeout(c *wire.ContainerDefinition) time.Duration {
	if c.StartTimeout != nil && *c.StartTimeout > 0 {
		return time.Duration(*c.StartTimeout) * time.Second
	}
	return defaultStartTimeout
}

func seconds(p *int32, def int32) time.Duration {
	return time.Duration(orDefault(p, def)) * time.Second
}

func orDefault(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func essential(c *wire.ContainerDefinition) bool { return c.Essential == nil || *c.Essential }

// taskID is the last part of a task ARN.
func taskID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }
