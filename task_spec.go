package flotilla

import "strconv"

// TaskSpec is what the tasks of a run (RunTask, StartTask, a service's
// deployment) are made from: the task definition's containers and
// task-level cpu and memory, and the run's overrides.
type TaskSpec struct {
	Containers []ContainerSpec
	// CPU and Memory are the definition's task-level sizes ("" for none),
	// in ECS's strings ("1 vCPU", "512", "1 GB").
	CPU, Memory string
	Overrides   TaskOverrides
}

// ContainerSpec is one container of a task definition, as much of it as
// its tasks' records and reservations take.
type ContainerSpec struct {
	Name, Image                    string
	Essential                      bool
	CPU, Memory, MemoryReservation int
	// HealthCheck is set when the container has a health check.
	HealthCheck bool
	// HostPorts are the static host ports of its port mappings (0, a
	// dynamic port, is not reserved).
	HostPorts []HostPort
}

// HostPort is a static host port of a container's port mapping.
type HostPort struct {
	Port int
	UDP  bool
}

// TaskOverrides are a run's changes to the definition: the task-level
// sizes ("" keeps the definition's) and the containers' resources.
type TaskOverrides struct {
	CPU, Memory string
	Containers  []ContainerOverride
}

// ContainerOverride changes one container's resources; nil keeps the
// definition's.
type ContainerOverride struct {
	Name                           string
	CPU, Memory, MemoryReservation *int
}

// Resolve returns the containers of a task made from the spec (PENDING,
// health UNKNOWN for an essential container with a health check) and what
// the task reserves on its instance: the task-level cpu and memory when
// given, otherwise the sum of the containers' cpu and of their memory
// reservations (or memory), and the static host ports. An override of a
// container the definition does not have, or one that leaves a container
// with more memoryReservation than memory, is an EInvalid error; malformed
// task-level sizes are ParseTaskCPU's and ParseTaskMemory's errors.
func (s TaskSpec) Resolve() ([]TaskContainer, Reservation, error) {
	byName := map[string]ContainerOverride{}
	for _, co := range s.Overrides.Containers {
		found := false
		for _, c := range s.Containers {
			found = found || c.Name == co.Name
		}
		if !found {
			return nil, Reservation{}, Errorf(EInvalid, "Override for container named %s is not a container in the TaskDefinition.", co.Name)
		}
		byName[co.Name] = co
	}
	var res Reservation
	var containers []TaskContainer
	cpu, mem := 0, 0
	for _, c := range s.Containers {
		tc := TaskContainer{Name: c.Name, Image: c.Image, LastStatus: ContainerPending, Essential: c.Essential,
			CPU: c.CPU, Memory: c.Memory, MemoryReservation: c.MemoryReservation}
		if co, ok := byName[tc.Name]; ok {
			if co.CPU != nil {
				tc.CPU = *co.CPU
			}
			if co.Memory != nil {
				tc.Memory = *co.Memory
			}
			if co.MemoryReservation != nil {
				tc.MemoryReservation = *co.MemoryReservation
			}
		}
		if tc.Memory > 0 && tc.MemoryReservation > tc.Memory {
			return nil, Reservation{}, Errorf(EInvalid, "Invalid memory override for container %s: memory must be at least memoryReservation.", tc.Name)
		}
		if tc.Essential && c.HealthCheck {
			tc.HealthStatus = HealthUnknown
		}
		cpu += tc.CPU
		if tc.MemoryReservation > 0 {
			mem += tc.MemoryReservation
		} else {
			mem += tc.Memory
		}
		for _, hp := range c.HostPorts {
			if hp.Port == 0 {
				continue
			}
			if hp.UDP {
				res.UDPPorts = append(res.UDPPorts, strconv.Itoa(hp.Port))
			} else {
				res.Ports = append(res.Ports, strconv.Itoa(hp.Port))
			}
		}
		containers = append(containers, tc)
	}
	taskCPU, taskMem := s.CPU, s.Memory
	if s.Overrides.CPU != "" {
		taskCPU = s.Overrides.CPU
	}
	if s.Overrides.Memory != "" {
		taskMem = s.Overrides.Memory
	}
	if taskCPU != "" {
		v, err := ParseTaskCPU(taskCPU)
		if err != nil {
			return nil, Reservation{}, err
		}
		cpu = v
	}
	if taskMem != "" {
		v, err := ParseTaskMemory(taskMem)
		if err != nil {
			return nil, Reservation{}, err
		}
		mem = v
	}
	res.CPU, res.MemoryMiB = cpu, mem
	return containers, res, nil
}
