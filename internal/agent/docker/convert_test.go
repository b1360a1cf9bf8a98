package docker

import (
	"bytes"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"github.com/flotilla/flotilla/internal/agent"
)

// Tests of the pure conversions between the contract and the engine's types.

func TestContainerConfigPorts(t *testing.T) {
	spec := agent.ContainerSpec{PortBindings: []agent.PortBinding{
		{ContainerPort: 80},
		{ContainerPort: 80, HostPort: 8080, HostIP: "127.0.0.1"},
		{ContainerPort: 53, HostPort: 5353, Protocol: "udp"},
	}}
	tests := []struct {
		mode     string
		bindings nat.PortMap
	}{
		{"", nat.PortMap{
			"80/tcp": {{HostPort: ""}, {HostIP: "127.0.0.1", HostPort: "8080"}},
			"53/udp": {{HostPort: "5353"}},
		}},
		{"host", nil},
		{"none", nil},
	}
	for _, tt := range tests {
		spec.NetworkMode = tt.mode
		cfg, host, err := containerConfig(spec)
		if err != nil {
			t.Fatal(err)
		}
		if want := (nat.PortSet{"80/tcp": {}, "53/udp": {}}); !maps.Equal(cfg.ExposedPorts, want) {
			t.Errorf("mode %q: ExposedPorts = %v, want %v", tt.mode, cfg.ExposedPorts, want)
		}
		if !reflect.DeepEqual(host.PortBindings, tt.bindings) {
			t.Errorf("mode %q: PortBindings = %v, want %v", tt.mode, host.PortBindings, tt.bindings)
		}
	}
}

func TestContainerConfigMounts(t *testing.T) {
	_, host, err := containerConfig(agent.ContainerSpec{Mounts: []agent.Mount{
		{Type: "bind", Source: "/srv/data", Target: "/data"},
		{Type: "bind", Source: "/etc/app", Target: "/config", ReadOnly: true},
		{Type: "volume", Source: "cache", Target: "/cache", ReadOnly: true},
		{Type: "volume", Target: "/scratch"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/srv/data:/data", "/etc/app:/config:ro"}; !slices.Equal(host.Binds, want) {
		t.Errorf("Binds = %q, want %q", host.Binds, want)
	}
	want := []mount.Mount{
		{Type: mount.TypeVolume, Source: "cache", Target: "/cache", ReadOnly: true},
		{Type: mount.TypeVolume, Target: "/scratch"},
	}
	if !reflect.DeepEqual(host.Mounts, want) {
		t.Errorf("Mounts = %+v, want %+v", host.Mounts, want)
	}
}

func TestContainerConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		spec agent.ContainerSpec
		err  string
	}{
		{"sctp", agent.ContainerSpec{PortBindings: []agent.PortBinding{{ContainerPort: 9, Protocol: "sctp"}}}, "neither tcp nor udp"},
		{"bad port", agent.ContainerSpec{PortBindings: []agent.PortBinding{{ContainerPort: -1}}}, "port -1/tcp"},
		{"relative bind", agent.ContainerSpec{Mounts: []agent.Mount{{Type: "bind", Source: "data", Target: "/data"}}}, "must be absolute"},
		{"colon in bind", agent.ContainerSpec{Mounts: []agent.Mount{{Type: "bind", Source: "/a:b", Target: "/data"}}}, "free of ':'"},
		{"tmpfs mount", agent.ContainerSpec{Mounts: []agent.Mount{{Type: "tmpfs", Target: "/t"}}}, "neither bind nor volume"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := containerConfig(tt.spec); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestContainerConfigResources(t *testing.T) {
	cfg, host, err := containerConfig(agent.ContainerSpec{
		MemoryMiB:         512,
		MemoryReservation: 128,
		StopTimeout:       2500 * time.Millisecond,
		Healthcheck:       &agent.Healthcheck{Test: []string{"CMD", "true"}, Interval: 5 * time.Second, Retries: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	if host.Memory != 512<<20 || host.MemoryReservation != 128<<20 {
		t.Errorf("Memory = %d, MemoryReservation = %d", host.Memory, host.MemoryReservation)
	}
	if cfg.StopTimeout == nil || *cfg.StopTimeout != 3 {
		t.Errorf("StopTimeout = %v, want 3 s (rounded up)", cfg.StopTimeout)
	}
	if hc := cfg.Healthcheck; hc == nil || hc.Interval != 5*time.Second || hc.Retries != 3 || !slices.Equal(hc.Test, []string{"CMD", "true"}) {
		t.Errorf("Healthcheck = %+v", hc)
	}
	if host.Init != nil {
		t.Errorf("Init = %v, want the engine's default", *host.Init)
	}
	if cfg, _, _ := containerConfig(agent.ContainerSpec{}); cfg.StopTimeout != nil || cfg.Healthcheck != nil {
		t.Errorf("zero spec: StopTimeout %v, Healthcheck %v; want both unset", cfg.StopTimeout, cfg.Healthcheck)
	}
}

func TestStatus(t *testing.T) {
	for engine, want := range map[string]string{
		"created":    agent.StatusCreated,
		"running":    agent.StatusRunning,
		"paused":     agent.StatusRunning,
		"restarting": agent.StatusRunning,
		"removing":   agent.StatusExited,
		"exited":     agent.StatusExited,
		"dead":       agent.StatusDead,
	} {
		if got := status(engine); got != want {
			t.Errorf("status(%q) = %q, want %q", engine, got, want)
		}
	}
}

func TestContainerState(t *testing.T) {
	info := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID:      "abc",
			Name:    "/web",
			Created: "2024-05-01T10:00:00.5Z",
			State: &container.State{
				Status:     "running",
				Running:    true,
				StartedAt:  "2024-05-01T10:00:01Z",
				FinishedAt: "0001-01-01T00:00:00Z",
				Health:     &container.Health{Status: "none"},
			},
			HostConfig: &container.HostConfig{NetworkMode: "bridge"},
		},
		Config: &container.Config{Image: "app:1", Labels: map[string]string{"k": "v"}},
		NetworkSettings: &container.NetworkSettings{NetworkSettingsBase: container.NetworkSettingsBase{Ports: nat.PortMap{
			"8080/tcp": {{HostIP: "0.0.0.0", HostPort: "49153"}, {HostIP: "::", HostPort: "49153"}},
			"53/udp":   {{HostIP: "127.0.0.1", HostPort: "5353"}},
			"9000/tcp": nil, // exposed, not published
		}}},
	}
	st, err := containerState(info)
	if err != nil {
		t.Fatal(err)
	}
	want := agent.ContainerState{
		ID:        "abc",
		Name:      "web",
		Image:     "app:1",
		Labels:    map[string]string{"k": "v"},
		Status:    agent.StatusRunning,
		CreatedAt: time.Date(2024, 5, 1, 10, 0, 0, 5e8, time.UTC),
		StartedAt: time.Date(2024, 5, 1, 10, 0, 1, 0, time.UTC),
		Ports: []agent.PortBinding{
			{ContainerPort: 53, HostPort: 5353, Protocol: "udp", HostIP: "127.0.0.1"},
			{ContainerPort: 8080, HostPort: 49153, Protocol: "tcp"},
		},
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("containerState =\n%+v\nwant\n%+v", st, want)
	}

	info.HostConfig.NetworkMode = "host"
	info.Config.ExposedPorts = nat.PortSet{"8080/tcp": {}}
	if st, _ := containerState(info); !slices.Equal(st.Ports, []agent.PortBinding{{ContainerPort: 8080, HostPort: 8080, Protocol: "tcp"}}) {
		t.Errorf("host mode ports = %+v", st.Ports)
	}

	info.Created = "yesterday"
	if _, err := containerState(info); err == nil {
		t.Error("a bad time parsed")
	}
}

func TestToEvent(t *testing.T) {
	attrs := map[string]string{"image": "app:1", "name": "web", "exitCode": "3", "com.example": "x"}
	tests := []struct {
		action events.Action
		typ    events.Type
		want   string // "" for dropped
	}{
		{"start", events.ContainerEventType, "start"},
		{"die", events.ContainerEventType, "die"},
		{"oom", events.ContainerEventType, "oom"},
		{"health_status: healthy", events.ContainerEventType, "health_status"},
		{"health_status: unhealthy", events.ContainerEventType, "health_status"},
		{"health_status", events.ContainerEventType, "health_status"},
		{"exec_start: /testapp check", events.ContainerEventType, ""},
		{"destroy", events.ContainerEventType, ""},
		{"start", events.NetworkEventType, ""},
	}
	for _, tt := range tests {
		ev, ok := toEvent(events.Message{
			Type:     tt.typ,
			Action:   tt.action,
			Actor:    events.Actor{ID: "abc", Attributes: attrs},
			TimeNano: 1700000000123456789,
		})
		if ok != (tt.want != "") {
			t.Errorf("%s %q: reported %v", tt.typ, tt.action, ok)
			continue
		}
		if !ok {
			continue
		}
		want := agent.Event{ID: "abc", Action: tt.want, Labels: map[string]string{"com.example": "x"}, Time: time.Unix(0, 1700000000123456789)}
		if !reflect.DeepEqual(ev, want) {
			t.Errorf("%q: %+v, want %+v", tt.action, ev, want)
		}
	}
	if len(attrs) != 4 {
		t.Errorf("toEvent changed the engine's attributes: %v", attrs)
	}
	if ev, _ := toEvent(events.Message{Type: events.ContainerEventType, Action: "die", Time: 1700000000}); !ev.Time.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("time from seconds = %v", ev.Time)
	}
}

func TestCPUPercent(t *testing.T) {
	sample := func(pre, cur, preSys, curSys uint64, online uint32, percpu int) container.StatsResponse {
		var s container.StatsResponse
		s.PreCPUStats.CPUUsage.TotalUsage, s.CPUStats.CPUUsage.TotalUsage = pre, cur
		s.PreCPUStats.SystemUsage, s.CPUStats.SystemUsage = preSys, curSys
		s.CPUStats.OnlineCPUs = online
		s.CPUStats.CPUUsage.PercpuUsage = make([]uint64, percpu)
		return s
	}
	tests := []struct {
		name string
		s    container.StatsResponse
		want float64
	}{
		// One core busy on a 4-core host: the container used 1/4 of all
		// CPU time, which is 100% of one core.
		{"one core of four", sample(1e9, 2e9, 10e9, 14e9, 4, 0), 100},
		{"half a core", sample(0, 5e8, 0, 2e9, 2, 0), 50},
		{"online from percpu", sample(0, 5e8, 0, 2e9, 0, 2), 50},
		{"no previous sample", sample(0, 5e8, 0, 0, 2, 0), 0},
		{"idle", sample(7, 7, 0, 2e9, 2, 0), 0},
	}
	for _, tt := range tests {
		if got := cpuPercent(tt.s); got != tt.want {
			t.Errorf("%s: cpuPercent = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMemoryUsage(t *testing.T) {
	tests := []struct {
		name string
		m    container.MemoryStats
		want uint64
	}{
		{"cgroup v1", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"total_inactive_file": 30, "inactive_file": 10}}, 70},
		{"cgroup v2", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"inactive_file": 10}}, 90},
		{"no stats", container.MemoryStats{Usage: 100}, 100},
		{"cache above usage", container.MemoryStats{Usage: 100, Stats: map[string]uint64{"total_inactive_file": 300}}, 100},
	}
	for _, tt := range tests {
		if got := memoryUsage(tt.m); got != tt.want {
			t.Errorf("%s: memoryUsage = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestReadProgress(t *testing.T) {
	tests := []struct {
		stream string
		err    string
	}{
		{`{"status":"Pulling from library/x"}{"status":"Digest: sha256:abc"}`, ""},
		{`{"status":"Pulling"}{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}`, "manifest unknown"},
		{`{"error":"denied"}`, "denied"},
	}
	for _, tt := range tests {
		err := readProgress(bytes.NewBufferString(tt.stream))
		if tt.err == "" {
			if err != nil {
				t.Errorf("readProgress(%s) = %v", tt.stream, err)
			}
			continue
		}
		var se streamError
		if !errors.As(err, &se) || se.msg != tt.err {
			t.Errorf("readProgress(%s) = %v, want streamError %q", tt.stream, err, tt.err)
		}
	}
	if err := readProgress(bytes.NewBufferString(`{"status":`)); err == nil || errors.As(err, new(streamError)) {
		t.Errorf("truncated stream: %v, want a read error", err)
	}
}

// TestBoundPortsFamilies checks the bindings of a dynamic port the engine
// published on different ports for IPv4 and IPv6 (as Docker 28 may): both
// are listed, the IPv4 one first, so that a load balancer reaching the task
// over IPv4 gets the IPv4 port; one port on both families is listed once.
func TestBoundPortsFamilies(t *testing.T) {
	info := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{HostConfig: &container.HostConfig{NetworkMode: "bridge"}},
		NetworkSettings: &container.NetworkSettings{NetworkSettingsBase: container.NetworkSettingsBase{Ports: nat.PortMap{
			"8080/tcp": {{HostIP: "::", HostPort: "32843"}, {HostIP: "0.0.0.0", HostPort: "32848"}},
			"9090/tcp": {{HostIP: "0.0.0.0", HostPort: "32850"}, {HostIP: "::", HostPort: "32850"}},
		}}},
	}
	got := boundPorts(info)
	want := []agent.PortBinding{
		{ContainerPort: 8080, HostPort: 32848, Protocol: "tcp", HostIP: "0.0.0.0"},
		{ContainerPort: 8080, HostPort: 32843, Protocol: "tcp", HostIP: "::"},
		{ContainerPort: 9090, HostPort: 32850, Protocol: "tcp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("boundPorts = %+v\nwant %+v", got, want)
	}
}
