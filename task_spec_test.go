package flotilla

import (
	"reflect"
	"testing"
)

func TestTaskSpecResolve(t *testing.T) {
	web := ContainerSpec{Name: "web", Image: "nginx", Essential: true, CPU: 256, Memory: 512, HealthCheck: true,
		HostPorts: []HostPort{{Port: 80}, {Port: 0}, {Port: 53, UDP: true}}}
	sidecar := ContainerSpec{Name: "log", Image: "fluent", CPU: 128, Memory: 256, MemoryReservation: 64, HealthCheck: true}
	webTC := TaskContainer{Name: "web", Image: "nginx", LastStatus: ContainerPending, Essential: true, CPU: 256, Memory: 512, HealthStatus: HealthUnknown}
	logTC := TaskContainer{Name: "log", Image: "fluent", LastStatus: ContainerPending, CPU: 128, Memory: 256, MemoryReservation: 64}
	cases := []struct {
		name       string
		spec       TaskSpec
		containers []TaskContainer
		res        Reservation
		err        Code // the error's code, "" for none
	}{
		{name: "containers' sums, memoryReservation before memory, static ports",
			spec:       TaskSpec{Containers: []ContainerSpec{web, sidecar}},
			containers: []TaskContainer{webTC, logTC},
			res:        Reservation{CPU: 384, MemoryMiB: 576, Ports: []string{"80"}, UDPPorts: []string{"53"}}},
		{name: "task-level sizes win",
			spec:       TaskSpec{Containers: []ContainerSpec{sidecar}, CPU: "1 vCPU", Memory: "2 GB"},
			containers: []TaskContainer{logTC},
			res:        Reservation{CPU: 1024, MemoryMiB: 2048}},
		{name: "overrides of the task and of a container",
			spec: TaskSpec{Containers: []ContainerSpec{sidecar}, CPU: "1 vCPU", Overrides: TaskOverrides{Memory: "1024",
				Containers: []ContainerOverride{{Name: "log", CPU: intp(64), Memory: intp(128), MemoryReservation: intp(100)}}}},
			containers: []TaskContainer{func() TaskContainer { c := logTC; c.CPU, c.Memory, c.MemoryReservation = 64, 128, 100; return c }()},
			res:        Reservation{CPU: 1024, MemoryMiB: 1024}},
		{name: "override of a container that is not there",
			spec: TaskSpec{Containers: []ContainerSpec{web}, Overrides: TaskOverrides{Containers: []ContainerOverride{{Name: "nope"}}}}, err: EInvalid},
		{name: "memoryReservation above memory",
			spec: TaskSpec{Containers: []ContainerSpec{web}, Overrides: TaskOverrides{Containers: []ContainerOverride{{Name: "web", MemoryReservation: intp(1024)}}}}, err: EInvalid},
		{name: "malformed task cpu", spec: TaskSpec{Containers: []ContainerSpec{web}, CPU: "lots"}, err: EClient},
		{name: "malformed memory override", spec: TaskSpec{Containers: []ContainerSpec{web}, Overrides: TaskOverrides{Memory: "lots"}}, err: EClient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			containers, res, err := c.spec.Resolve()
			if c.err != "" {
				if ErrorCode(err) != c.err {
					t.Fatalf("Resolve() error = %v, want an %s error", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(containers, c.containers) || !reflect.DeepEqual(res, c.res) {
				t.Errorf("Resolve() =\n %+v, %+v\nwant\n %+v, %+v", containers, res, c.containers, c.res)
			}
		})
	}
}
