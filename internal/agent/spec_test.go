package agent

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
)

func testRunner(t *testing.T, def wire.TaskDefinition, ov *wire.TaskOverride, allowPrivileged bool) *taskRunner {
	t.Helper()
	b, _ := json.Marshal(def)
	ts := &TaskState{ARN: "arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef0123456789abcdef", Family: "web", Revision: 3, Definition: b}
	if ov != nil {
		ts.Overrides, _ = json.Marshal(ov)
	}
	a := &Agent{cfg: Config{DataDir: "/var/lib/agent", AllowPrivileged: allowPrivileged}, clusterARN: "arn:aws:ecs:us-east-1:123456789012:cluster/c",
		instanceARN: "arn:aws:ecs:us-east-1:123456789012:container-instance/c/i1"}
	r, err := newTaskRunner(a, ts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestContainerSpec(t *testing.T) {
	def := wire.TaskDefinition{NetworkMode: wire.NetworkModeBridge,
		Volumes: []wire.Volume{
			{Name: ptr.To("host"), Host: &wire.HostVolumeProperties{SourcePath: ptr.To("/srv/data")}},
			{Name: ptr.To("scratch")},
			{Name: ptr.To("shared"), DockerVolumeConfiguration: &wire.DockerVolumeConfiguration{Scope: wire.ScopeShared}},
			{Name: ptr.To("mine"), DockerVolumeConfiguration: &wire.DockerVolumeConfiguration{Scope: wire.ScopeTask}},
		},
		ContainerDefinitions: []wire.ContainerDefinition{{
			Name: ptr.To("web"), Image: ptr.To("img"), Command: []string{"serve"}, Memory: ptr.To(int32(128)), MemoryReservation: ptr.To(int32(64)),
			Environment:  []wire.KeyValuePair{{Name: ptr.To("A"), Value: ptr.To("1")}, {Name: ptr.To("B"), Value: ptr.To("2")}},
			PortMappings: []wire.PortMapping{{ContainerPort: ptr.To(int32(8080)), HostPort: ptr.To(int32(0))}, {ContainerPort: ptr.To(int32(53)), HostPort: ptr.To(int32(5353)), Protocol: wire.TransportProtocolUdp}},
			MountPoints: []wire.MountPoint{{SourceVolume: ptr.To("host"), ContainerPath: ptr.To("/data"), ReadOnly: ptr.To(true)},
				{SourceVolume: ptr.To("scratch"), ContainerPath: ptr.To("/tmp/s")}, {SourceVolume: ptr.To("shared"), ContainerPath: ptr.To("/sh")},
				{SourceVolume: ptr.To("mine"), ContainerPath: ptr.To("/m")}},
			HealthCheck: &wire.HealthCheck{Command: []string{"CMD", "/check"}, Interval: ptr.To(int32(10)), Retries: ptr.To(int32(2))},
			Ulimits:     []wire.Ulimit{{Name: wire.UlimitNameNofile, SoftLimit: ptr.To(int32(1024)), HardLimit: ptr.To(int32(2048))}},
			LinuxParameters: &wire.LinuxParameters{Capabilities: &wire.KernelCapabilities{Add: []string{"NET_ADMIN"}, Drop: []string{"MKNOD"}},
				InitProcessEnabled: ptr.To(true)},
			DockerLabels: map[string]string{"team": "a", LabelTaskARN: "spoofed"},
			StopTimeout:  ptr.To(int32(7)),
			ExtraHosts:   []wire.HostEntry{{Hostname: ptr.To("db"), IpAddress: ptr.To("10.0.0.5")}},
		}},
	}
	ov := &wire.TaskOverride{ContainerOverrides: []wire.ContainerOverride{{Name: ptr.To("web"), Command: []string{"serve", "-addr", ":9"},
		Environment: []wire.KeyValuePair{{Name: ptr.To("B"), Value: ptr.To("override")}, {Name: ptr.To("C"), Value: ptr.To("3")}}, Memory: ptr.To(int32(256))}}}
	r := testRunner(t, def, ov, false)
	spec, err := r.containerSpec(&r.def.ContainerDefinitions[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "ecs-web-3-web-0123456789ab" || spec.Image != "img" || strings.Join(spec.Cmd, " ") != "serve -addr :9" {
		t.Fatalf("name/image/cmd: %q %q %v", spec.Name, spec.Image, spec.Cmd)
	}
	if strings.Join(spec.Env, ",") != "A=1,B=override,C=3" {
		t.Fatalf("env %v", spec.Env)
	}
	if spec.MemoryMiB != 256 || spec.MemoryReservation != 64 || spec.CPUShares != 2 {
		t.Fatalf("memory %d/%d, cpu shares %d", spec.MemoryMiB, spec.MemoryReservation, spec.CPUShares)
	}
	wantPorts := []PortBinding{{ContainerPort: 8080, HostPort: 0, Protocol: "tcp"}, {ContainerPort: 53, HostPort: 5353, Protocol: "udp"}}
	if !slices.Equal(spec.PortBindings, wantPorts) {
		t.Fatalf("ports %+v", spec.PortBindings)
	}
	wantMounts := []Mount{{Type: "bind", Source: "/srv/data", Target: "/data", ReadOnly: true},
		{Type: "bind", Source: "/var/lib/agent/volumes/0123456789abcdef0123456789abcdef/scratch", Target: "/tmp/s"},
		{Type: "volume", Source: "shared", Target: "/sh"}, {Type: "volume", Source: "ecs-0123456789ab-mine", Target: "/m"}}
	if !slices.Equal(spec.Mounts, wantMounts) {
		t.Fatalf("mounts %+v", spec.Mounts)
	}
	if hc := spec.Healthcheck; hc == nil || hc.Interval != 10*time.Second || hc.Timeout != 5*time.Second || hc.Retries != 2 {
		t.Fatalf("health check %+v", spec.Healthcheck)
	}
	if spec.Labels[LabelTaskARN] != r.ts.ARN || spec.Labels["team"] != "a" || spec.Labels[LabelInstance] == "" {
		t.Fatalf("labels %v", spec.Labels)
	}
	if spec.StopTimeout != 7*time.Second || !spec.Init || spec.CapAdd[0] != "NET_ADMIN" || spec.Ulimits[0].Hard != 2048 || spec.ExtraHosts[0] != "db:10.0.0.5" {
		t.Fatalf("stop timeout %s, init %v, caps %v, ulimits %v, hosts %v", spec.StopTimeout, spec.Init, spec.CapAdd, spec.Ulimits, spec.ExtraHosts)
	}

	def.ContainerDefinitions[0].Privileged = ptr.To(true)
	if _, err := testRunner(t, def, nil, false).containerSpec(&def.ContainerDefinitions[0], nil); err == nil || !strings.Contains(err.Error(), "privileged") {
		t.Fatalf("privileged without permission: %v", err)
	}
	if _, err := testRunner(t, def, nil, true).containerSpec(&def.ContainerDefinitions[0], nil); err != nil {
		t.Fatalf("privileged with permission: %v", err)
	}
}

func TestCreateOrderAndDependencies(t *testing.T) {
	def := wire.TaskDefinition{ContainerDefinitions: []wire.ContainerDefinition{
		{Name: ptr.To("app"), DependsOn: []wire.ContainerDependency{{ContainerName: ptr.To("db"), Condition: wire.ContainerConditionHealthy},
			{ContainerName: ptr.To("init"), Condition: wire.ContainerConditionSuccess}}},
		{Name: ptr.To("db"), VolumesFrom: []wire.VolumeFrom{{SourceContainer: ptr.To("data")}}},
		{Name: ptr.To("init")},
		{Name: ptr.To("data")},
	}}
	r := testRunner(t, def, nil, false)
	var order []string
	for _, c := range r.createOrder() {
		order = append(order, ptr.Deref(c.Name))
	}
	pos := func(n string) int { return slices.Index(order, n) }
	if pos("data") > pos("db") || pos("db") > pos("app") || pos("init") > pos("app") {
		t.Fatalf("create order %v", order)
	}
	app := &r.def.ContainerDefinitions[0]
	now := time.Now()
	tests := []struct {
		name    string
		db, ini ContainerState
		ready   bool
		err     bool
	}{
		{"nothing yet", ContainerState{Status: StatusCreated}, ContainerState{Status: StatusCreated}, false, false},
		{"db starting", ContainerState{Status: StatusRunning, StartedAt: now, Health: HealthStarting}, ContainerState{Status: StatusExited, ExitCode: 0}, false, false},
		{"both met", ContainerState{Status: StatusRunning, StartedAt: now, Health: HealthHealthy}, ContainerState{Status: StatusExited, ExitCode: 0}, true, false},
		{"init failed", ContainerState{Status: StatusRunning, Health: HealthHealthy}, ContainerState{Status: StatusExited, ExitCode: 1}, false, true},
		{"db died", ContainerState{Status: StatusExited, ExitCode: 1}, ContainerState{Status: StatusExited}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.observed = map[string]ContainerState{"db": tt.db, "init": tt.ini}
			ready, err := r.dependenciesMet(app)
			if ready != tt.ready || (err != nil) != tt.err {
				t.Fatalf("ready %v err %v; want %v, err=%v", ready, err, tt.ready, tt.err)
			}
		})
	}
}

func TestStateFileSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	keys := testKeyring(t)
	f, err := openState(dir, keys)
	if err != nil {
		t.Fatal(err)
	}
	err = f.update(func(s *State) {
		s.InstanceARN, s.Seq = "arn:i", 42
		s.Tasks["t"] = &TaskState{ARN: "t", Status: "RUNNING", Containers: map[string]*ContainerRecord{"c": {Name: "c", RuntimeID: "abc"}}}
		s.Queue = append(s.Queue, Report{ID: 1, Task: json.RawMessage(`{"task":"t"}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
	g, err := openState(dir, keys)
	if err != nil {
		t.Fatal(err)
	}
	g.view(func(s *State) {
		if s.InstanceARN != "arn:i" || s.Seq != 42 || s.Tasks["t"].Containers["c"].RuntimeID != "abc" || len(s.Queue) != 1 {
			t.Fatalf("reopened state %+v", s)
		}
	})
}
