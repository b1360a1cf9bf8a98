package ecs

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
)

// Limits and defaults of task definitions, as ECS documents them.
const (
	maxContainers          = 10
	minContainerMemoryMiB  = 6
	defaultHealthInterval  = 30
	defaultHealthTimeout   = 5
	defaultHealthRetries   = 3
	defaultHealthStart     = 0
	maxPlacementConstraint = 10
)

// buildTaskDefinition applies ECS's registration rules to a request and
// returns the definition with ECS's defaults filled in (revision, ARN and
// timestamps are the caller's).
func (s *Service) buildTaskDefinition(in *wire.RegisterTaskDefinitionRequest) (*wire.TaskDefinition, error) {
	family := ptr.Deref(in.Family)
	if !flotilla.ValidName(family) {
		return nil, flotilla.Errorf(flotilla.EClient, "Family contains invalid characters or is too long: %q. Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.", family)
	}
	n := len(in.ContainerDefinitions)
	if n == 0 {
		return nil, flotilla.Errorf(flotilla.EClient, "Container list cannot be empty.")
	}
	if n > maxContainers {
		return nil, flotilla.Errorf(flotilla.EClient, "Too many containers: %d. A task definition can have at most %d containers.", n, maxContainers)
	}
	mode := in.NetworkMode
	if mode == "" {
		mode = wire.NetworkModeBridge
	}
	td := &wire.TaskDefinition{
		Family:                  ptr.To(family),
		TaskRoleArn:             in.TaskRoleArn,
		ExecutionRoleArn:        in.ExecutionRoleArn,
		NetworkMode:             mode,
		Volumes:                 in.Volumes,
		PlacementConstraints:    in.PlacementConstraints,
		RequiresCompatibilities: in.RequiresCompatibilities,
		PidMode:                 in.PidMode,
		IpcMode:                 in.IpcMode,
		ProxyConfiguration:      in.ProxyConfiguration,
		InferenceAccelerators:   in.InferenceAccelerators,
		EphemeralStorage:        in.EphemeralStorage,
		RuntimePlatform:         in.RuntimePlatform,
		RegisteredBy:            ptr.To(s.acct.RootPrincipal()),
		Status:                  wire.TaskDefinitionStatusActive,
	}
	if td.Volumes == nil {
		td.Volumes = []wire.Volume{}
	}
	if td.PlacementConstraints == nil {
		td.PlacementConstraints = []wire.TaskDefinitionPlacementConstraint{}
	}
	if len(td.PlacementConstraints) > maxPlacementConstraint {
		return nil, flotilla.Errorf(flotilla.EClient, "Too many placement constraints: at most %d are allowed.", maxPlacementConstraint)
	}
	for _, pc := range td.PlacementConstraints {
		if pc.Type != wire.TaskDefinitionPlacementConstraintTypeMemberOf || ptr.Deref(pc.Expression) == "" {
			return nil, flotilla.Errorf(flotilla.EClient, "Task definition placement constraints must be of type memberOf with an expression.")
		}
	}

	taskCPU, taskMem := 0, 0
	if c := ptr.Deref(in.Cpu); c != "" {
		v, err := flotilla.ParseTaskCPU(c)
		if err != nil {
			return nil, err
		}
		taskCPU = v
		td.Cpu = ptr.To(strconv.Itoa(v))
	}
	if m := ptr.Deref(in.Memory); m != "" {
		v, err := flotilla.ParseTaskMemory(m)
		if err != nil {
			return nil, err
		}
		taskMem = v
		td.Memory = ptr.To(strconv.Itoa(v))
	}
	fargate := slices.Contains(in.RequiresCompatibilities, wire.CompatibilityFargate)
	if fargate {
		if mode != wire.NetworkModeAwsvpc {
			return nil, flotilla.Errorf(flotilla.EClient, "Fargate only supports network mode 'awsvpc'.")
		}
		if taskCPU == 0 || taskMem == 0 {
			return nil, flotilla.Errorf(flotilla.EClient, "Fargate requires that 'cpu' be defined at the task level.")
		}
	}

	volumes := map[string]bool{}
	for i, v := range td.Volumes {
		name := ptr.Deref(v.Name)
		if !flotilla.ValidName(name) {
			return nil, flotilla.Errorf(flotilla.EClient, "Invalid volume name %q at volumes[%d]. Up to 255 letters, numbers, hyphens, and underscores are allowed.", name, i)
		}
		if volumes[name] {
			return nil, flotilla.Errorf(flotilla.EClient, "Duplicate volume name: %s.", name)
		}
		volumes[name] = true
	}

	names := map[string]bool{}
	for _, c := range in.ContainerDefinitions {
		names[ptr.Deref(c.Name)] = true
	}
	essential, sumCPU, sumMem := false, 0, 0
	hostPorts := map[string]bool{}
	attrs := map[string]bool{}
	seen := map[string]bool{}
	for i := range in.ContainerDefinitions {
		c := in.ContainerDefinitions[i]
		name := ptr.Deref(c.Name)
		if !flotilla.ValidName(name) {
			return nil, flotilla.Errorf(flotilla.EClient, "Container name %q is invalid: up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.", name)
		}
		if seen[name] {
			return nil, flotilla.Errorf(flotilla.EClient, "Duplicate container name found: %s. Container names must be unique within a task definition.", name)
		}
		seen[name] = true
		// The agent's containers log with json-file; options, and the
		// other drivers (awslogs among them), are refused until they are
		// passed on (fields.go refuses the options).
		if lc := c.LogConfiguration; lc != nil && lc.LogDriver != wire.LogDriverJsonFile {
			return nil, flotilla.Errorf(flotilla.EInvalid, "containerDefinitions[%d].logConfiguration.logDriver %s is not supported by Flotilla yet: containers log with json-file.", i, lc.LogDriver)
		}
		if ptr.Deref(c.Image) == "" {
			return nil, flotilla.Errorf(flotilla.EClient, "Container.image should not be null or empty.")
		}
		if c.Essential == nil {
			c.Essential = ptr.To(true)
		}
		essential = essential || *c.Essential
		if c.Cpu == nil {
			c.Cpu = ptr.To(int32(0))
		}
		if *c.Cpu < 0 {
			return nil, flotilla.Errorf(flotilla.EClient, "Invalid 'cpu' setting for container '%s'.", name)
		}
		sumCPU += int(*c.Cpu)
		mem, res := c.Memory, c.MemoryReservation
		switch {
		case mem == nil && res == nil && taskMem == 0:
			return nil, flotilla.Errorf(flotilla.EClient, "Invalid setting for container '%s'. At least one of 'memory' or 'memoryReservation' must be specified.", name)
		case mem != nil && *mem < minContainerMemoryMiB:
			return nil, flotilla.Errorf(flotilla.EClient, "Invalid 'memory' setting for container '%s'. The minimum is %d MiB.", name, minContainerMemoryMiB)
		case res != nil && *res < minContainerMemoryMiB:
			return nil, flotilla.Errorf(flotilla.EClient, "Invalid 'memoryReservation' setting for container '%s'. The minimum is %d MiB.", name, minContainerMemoryMiB)
		case mem != nil && res != nil && *mem < *res:
			return nil, flotilla.Errorf(flotilla.EClient, "Invalid 'memory' setting for container '%s'. 'memory' must be greater than or equal to 'memoryReservation'.", name)
		}
		if mem != nil {
			sumMem += int(*mem)
		} else if res != nil {
			sumMem += int(*res)
		}
		if err := checkPortMappings(&c, mode, hostPorts); err != nil {
			return nil, err
		}
		if c.HealthCheck != nil {
			if err := fillHealthCheck(name, c.HealthCheck); err != nil {
				return nil, err
			}
			attrs["ecs.capability.container-health-check"] = true
		}
		for _, d := range c.DependsOn {
			dep := ptr.Deref(d.ContainerName)
			if dep == name || !names[dep] {
				return nil, flotilla.Errorf(flotilla.EClient, "Invalid 'dependsOn' setting for container '%s': container '%s' is not defined in the task definition.", name, dep)
			}
			attrs["ecs.capability.container-ordering"] = true
		}
		if len(c.Links) > 0 && mode != wire.NetworkModeBridge {
			return nil, flotilla.Errorf(flotilla.EClient, "Links are not supported when networkMode=%s.", mode)
		}
		for _, mp := range c.MountPoints {
			if !volumes[ptr.Deref(mp.SourceVolume)] {
				return nil, flotilla.Errorf(flotilla.EClient, "Invalid 'mountPoints' setting for container '%s'. sourceVolume '%s' is not defined in the task definition's volumes.", name, ptr.Deref(mp.SourceVolume))
			}
		}
		for _, vf := range c.VolumesFrom {
			if !names[ptr.Deref(vf.SourceContainer)] {
				return nil, flotilla.Errorf(flotilla.EClient, "Invalid 'volumesFrom' setting for container '%s'. sourceContainer '%s' is not defined in the task definition.", name, ptr.Deref(vf.SourceContainer))
			}
		}
		if len(c.DockerLabels) > 0 {
			attrs["com.amazonaws.ecs.capability.docker-remote-api.1.18"] = true
		}
		if c.Environment == nil {
			c.Environment = []wire.KeyValuePair{}
		}
		if c.MountPoints == nil {
			c.MountPoints = []wire.MountPoint{}
		}
		if c.VolumesFrom == nil {
			c.VolumesFrom = []wire.VolumeFrom{}
		}
		td.ContainerDefinitions = append(td.ContainerDefinitions, c)
	}
	if !essential {
		return nil, flotilla.Errorf(flotilla.EClient, "Task definition does not have any essential container.")
	}
	order := make([]string, len(in.ContainerDefinitions))
	deps := map[string][]string{}
	for i, c := range in.ContainerDefinitions {
		order[i] = ptr.Deref(c.Name)
		for _, d := range c.DependsOn {
			deps[order[i]] = append(deps[order[i]], ptr.Deref(d.ContainerName))
		}
	}
	if cycle := flotilla.DependencyCycle(order, deps); cycle != nil {
		return nil, flotilla.Errorf(flotilla.EClient, "Invalid 'dependsOn' setting: the containers depend on each other in a cycle (%s), so none of them could ever start.", strings.Join(cycle, " -> "))
	}
	if taskCPU > 0 && sumCPU > taskCPU {
		return nil, flotilla.Errorf(flotilla.EClient, "Invalid 'cpu' setting for task. The sum of container cpu (%d) exceeds the task cpu (%d).", sumCPU, taskCPU)
	}
	if taskMem > 0 && sumMem > taskMem {
		return nil, flotilla.Errorf(flotilla.EClient, "Invalid 'memory' setting for task. The sum of container memory (%d MiB) exceeds the task memory (%d MiB).", sumMem, taskMem)
	}
	if td.TaskRoleArn != nil {
		attrs["com.amazonaws.ecs.capability.task-iam-role"] = true
	}
	td.RequiresAttributes = []wire.Attribute{}
	for _, a := range slices.Sorted(maps.Keys(attrs)) {
		td.RequiresAttributes = append(td.RequiresAttributes, wire.Attribute{Name: ptr.To(a)})
	}
	td.Compatibilities = []wire.Compatibility{wire.CompatibilityExternal, wire.CompatibilityEc2}
	if mode == wire.NetworkModeAwsvpc && taskCPU > 0 && taskMem > 0 {
		td.Compatibilities = append(td.Compatibilities, wire.CompatibilityFargate)
	}
	return td, nil
}

// checkPortMappings applies the port mapping rules of the network mode and
// fills defaults: protocol tcp, and hostPort = containerPort where the mode
// shares the host's or the task's own network stack.
func checkPortMappings(c *wire.ContainerDefinition, mode wire.NetworkMode, hostPorts map[string]bool) error {
	name := ptr.Deref(c.Name)
	if mode == wire.NetworkModeNone && len(c.PortMappings) > 0 {
		return flotilla.Errorf(flotilla.EClient, "Port mappings are not supported for container '%s' when networkMode=none.", name)
	}
	for j := range c.PortMappings {
		pm := &c.PortMappings[j]
		if pm.Protocol == "" {
			pm.Protocol = wire.TransportProtocolTcp
		}
		if pm.ContainerPort == nil {
			if ptr.Deref(pm.ContainerPortRange) != "" {
				continue
			}
			return flotilla.Errorf(flotilla.EClient, "Invalid port mapping for container '%s': containerPort is required.", name)
		}
		cp := *pm.ContainerPort
		if cp < 1 || cp > 65535 {
			return flotilla.Errorf(flotilla.EClient, "Invalid 'containerPort' setting for container '%s': %d is not between 1 and 65535.", name, cp)
		}
		if pm.HostPort != nil && (*pm.HostPort < 0 || *pm.HostPort > 65535) {
			return flotilla.Errorf(flotilla.EClient, "Invalid 'hostPort' setting for container '%s': %d is not between 0 and 65535.", name, *pm.HostPort)
		}
		switch mode {
		case wire.NetworkModeHost, wire.NetworkModeAwsvpc:
			if pm.HostPort != nil && *pm.HostPort != 0 && *pm.HostPort != cp {
				return flotilla.Errorf(flotilla.EClient, "When networkMode=%s, the host ports and the container ports in port mappings must match.", mode)
			}
			pm.HostPort = ptr.To(cp)
		default:
			if pm.HostPort == nil {
				pm.HostPort = ptr.To(int32(0))
			}
		}
		if hp := *pm.HostPort; hp != 0 {
			k := string(pm.Protocol) + "/" + strconv.Itoa(int(hp))
			if hostPorts[k] {
				return flotilla.Errorf(flotilla.EClient, "Host port %d/%s is used by more than one port mapping in the task definition.", hp, pm.Protocol)
			}
			hostPorts[k] = true
		}
	}
	return nil
}

// fillHealthCheck checks a container health check's ranges and fills ECS's
// defaults.
func fillHealthCheck(container string, hc *wire.HealthCheck) error {
	if len(hc.Command) == 0 {
		return flotilla.Errorf(flotilla.EClient, "Invalid healthCheck for container '%s': command is required.", container)
	}
	if k := hc.Command[0]; k != "CMD" && k != "CMD-SHELL" && k != "NONE" {
		return flotilla.Errorf(flotilla.EClient, "Invalid healthCheck command for container '%s': the first element must be CMD or CMD-SHELL.", container)
	}
	check := func(field string, p **int32, def, lo, hi int32) error {
		if *p == nil {
			*p = ptr.To(def)
		}
		if v := **p; v < lo || v > hi {
			return flotilla.Errorf(flotilla.EClient, "Invalid healthCheck %s for container '%s': %d is not between %d and %d.", field, container, v, lo, hi)
		}
		return nil
	}
	if err := check("interval", &hc.Interval, defaultHealthInterval, 5, 300); err != nil {
		return err
	}
	if err := check("timeout", &hc.Timeout, defaultHealthTimeout, 2, 120); err != nil {
		return err
	}
	if err := check("retries", &hc.Retries, defaultHealthRetries, 1, 10); err != nil {
		return err
	}
	return check("startPeriod", &hc.StartPeriod, defaultHealthStart, 0, 300)
}
