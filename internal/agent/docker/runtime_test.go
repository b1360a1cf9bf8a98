package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/flotilla/flotilla/internal/agent"
	"github.com/flotilla/flotilla/internal/testimage"
)

func TestInfo(t *testing.T) {
	t.Parallel()
	info, err := rt.Info(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Version == "" || info.APIVersion == "" || info.OS != "linux" || info.Architecture == "" || info.NCPU < 1 || info.MemTotal <= 0 {
		t.Errorf("Info = %+v, want every field set", info)
	}
}

func TestImagePresent(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	for ref, want := range map[string]bool{
		testimage.Tag: true,
		"flotilla/no-such-image:" + randomSuffix(): false,
	} {
		got, err := rt.ImagePresent(ctx, ref)
		if err != nil || got != want {
			t.Errorf("ImagePresent(%q) = %v, %v; want %v", ref, got, err, want)
		}
	}
}

func TestPullNoSuchImage(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tests := []struct {
		name, ref string
		auth      *agent.RegistryAuth
		msg       string // part of the engine's message, kept in the error
	}{
		{"unknown registry", "no-such-registry.invalid/x:1", nil, "no-such-registry.invalid"},
		{"with auth", "no-such-registry.invalid/private:1", &agent.RegistryAuth{Username: "u", Password: "p", ServerAddress: "no-such-registry.invalid"}, "no-such-registry.invalid"},
		{"bad reference", "Not/A:Valid:Ref", nil, "invalid reference format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rt.Pull(ctx, tt.ref, tt.auth)
			if !errors.Is(err, agent.ErrNoSuchImage) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Pull(%q) = %v, want ErrNoSuchImage with %q", tt.ref, err, tt.msg)
			}
		})
	}
}

func TestCreateNoSuchImage(t *testing.T) {
	t.Parallel()
	_, err := rt.Create(testContext(t), agent.ContainerSpec{Name: uniqueName(t), Image: "flotilla/no-such-image:" + randomSuffix()})
	if !errors.Is(err, agent.ErrNoSuchImage) {
		t.Fatalf("Create = %v, want ErrNoSuchImage", err)
	}
}

// TestServe runs the HTTP server on a dynamic host port and checks what
// it sees and what the engine reports, then stops it gracefully.
func TestServe(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	marker := randomSuffix()
	name := uniqueName(t)
	id := run(t, ctx, agent.ContainerSpec{
		Name:         name,
		Cmd:          []string{"serve", "-addr", ":8080"},
		Env:          []string{"GREETING=bonjour", "MARKER=" + marker},
		Labels:       map[string]string{"flotilla.test.serve": marker},
		Hostname:     "web-" + marker,
		MemoryMiB:    64,
		PortBindings: []agent.PortBinding{{ContainerPort: 8080, Protocol: "tcp"}},
	})

	st, err := rt.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != id || st.Name != name || st.Image != testimage.Tag || st.Status != agent.StatusRunning ||
		st.StartedAt.IsZero() || st.CreatedAt.IsZero() || !st.FinishedAt.IsZero() || st.Health != "" {
		t.Errorf("Inspect = %+v", st)
	}
	if st.Labels["flotilla.test.serve"] != marker || st.Labels[testLabel] != "1" {
		t.Errorf("labels = %v", st.Labels)
	}
	// One binding on every interface, or (when the engine picked another
	// port for IPv6) the IPv4 one first.
	if len(st.Ports) == 0 || len(st.Ports) > 2 || strings.Contains(st.Ports[0].HostIP, ":") {
		t.Fatalf("ports = %+v, want 8080/tcp on a dynamic host port, IPv4 first", st.Ports)
	}
	for _, p := range st.Ports {
		if p.ContainerPort != 8080 || p.Protocol != "tcp" || p.HostPort == 0 {
			t.Fatalf("ports = %+v, want 8080/tcp on a dynamic host port", st.Ports)
		}
	}
	url := hostURL(t, st, 8080)

	body := waitHTTP(t, ctx, url+"/")
	if !strings.Contains(body, "greeting=bonjour") || !strings.Contains(body, "host=web-"+marker) {
		t.Errorf("GET / = %q", body)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(waitHTTP(t, ctx, url+"/env")), &env); err != nil {
		t.Fatal(err)
	}
	if env["MARKER"] != marker || env["GREETING"] != "bonjour" {
		t.Errorf("GET /env = %v", env)
	}

	t.Run("list", func(t *testing.T) {
		states, err := rt.List(ctx, map[string]string{"flotilla.test.serve": marker})
		if err != nil {
			t.Fatal(err)
		}
		if len(states) != 1 || states[0].ID != id || !slices.Equal(states[0].Ports, st.Ports) {
			t.Errorf("List = %+v, want the one container", states)
		}
	})

	t.Run("memory limit", func(t *testing.T) {
		info, err := rt.cli.ContainerInspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if info.HostConfig.Memory != 64<<20 {
			t.Errorf("HostConfig.Memory = %d, want %d", info.HostConfig.Memory, 64<<20)
		}
	})

	t.Run("stats", func(t *testing.T) {
		s, err := rt.Stats(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.MemoryBytes <= 0 || s.MemoryLimit != 64<<20 || s.CPUTotalNanos == 0 || s.Time.IsZero() || s.CPUPercent < 0 {
			t.Errorf("Stats = %+v, want memory use under a 64 MiB limit", s)
		}
	})

	t.Run("link", func(t *testing.T) {
		client := run(t, ctx, agent.ContainerSpec{
			Cmd:   []string{"check", "-url", "http://web:8080/healthz"},
			Links: []string{name + ":web"},
		})
		if st := waitExit(t, ctx, client); st.ExitCode != 0 {
			t.Errorf("check over the link exited %d: %s", st.ExitCode, logs(t, ctx, client))
		}
	})

	if err := rt.Stop(ctx, id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err = rt.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != agent.StatusExited || st.ExitCode != 0 || st.FinishedAt.Before(st.StartedAt) || len(st.Ports) != 0 {
		t.Errorf("after Stop: %+v, want exited 0 with no ports", st)
	}
	if out := logs(t, ctx, id); !strings.Contains(out, "listening on") || !strings.Contains(out, "received SIGTERM, shutting down") {
		t.Errorf("logs = %q, want the graceful shutdown", out)
	}
}

func TestHostNetwork(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	id := run(t, ctx, agent.ContainerSpec{
		Cmd:          []string{"serve", "-addr", "127.0.0.1:" + strconv.Itoa(port)},
		NetworkMode:  "host",
		PortBindings: []agent.PortBinding{{ContainerPort: port}},
	})
	st := waitFor(t, ctx, id, "running", func(st agent.ContainerState) bool { return st.Status == agent.StatusRunning })
	want := []agent.PortBinding{{ContainerPort: port, HostPort: port, Protocol: "tcp"}}
	if !slices.Equal(st.Ports, want) {
		t.Errorf("ports = %+v, want %+v", st.Ports, want)
	}
	waitHTTP(t, ctx, hostURL(t, st, port)+"/healthz")
}

// TestExitCode checks an exiting container's state and its events.
func TestExitCode(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	events := watchEvents(t, ctx)
	marker := randomSuffix()
	id := run(t, ctx, agent.ContainerSpec{
		Cmd:    []string{"exit", "-code", "3", "-after", "100ms"},
		Labels: map[string]string{"flotilla.test.exit": marker},
	})
	st := waitExit(t, ctx, id)
	if st.ExitCode != 3 || st.OOMKilled || st.Error != "" || st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		t.Errorf("state = %+v, want exited 3", st)
	}

	events.wait(t, ctx, id, "start", 1)
	die := events.wait(t, ctx, id, "die", 1)[0]
	if die.Labels["flotilla.test.exit"] != marker || die.Labels[testLabel] != "1" {
		t.Errorf("die labels = %v, want the container's labels", die.Labels)
	}
	for _, k := range engineAttributes {
		if _, ok := die.Labels[k]; ok {
			t.Errorf("die labels = %v, want no %q", die.Labels, k)
		}
	}
	if die.Time.IsZero() || die.Time.Before(st.StartedAt.Add(-time.Second)) {
		t.Errorf("die time = %v, started at %v", die.Time, st.StartedAt)
	}
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	events := watchEvents(t, ctx)
	id := run(t, ctx, agent.ContainerSpec{
		Cmd:          []string{"serve"},
		PortBindings: []agent.PortBinding{{ContainerPort: 8080}},
		Healthcheck: &agent.Healthcheck{
			Test:     []string{"CMD", "/testapp", "check", "-url", "http://127.0.0.1:8080/healthz"},
			Interval: time.Second,
			Timeout:  time.Second,
			Retries:  1,
		},
	})
	health := func(want string) agent.ContainerState {
		t.Helper()
		return waitFor(t, ctx, id, want, func(st agent.ContainerState) bool { return st.Health == want })
	}

	st := health(agent.HealthHealthy)
	events.wait(t, ctx, id, "health_status", 1)

	url := hostURL(t, st, 8080)
	if code, _, err := httpDo(ctx, "POST", url+"/unhealthy"); err != nil || code != http.StatusOK {
		t.Fatalf("POST /unhealthy = %d, %v", code, err)
	}
	health(agent.HealthUnhealthy)
	events.wait(t, ctx, id, "health_status", 2)

	if code, _, err := httpDo(ctx, "POST", url+"/healthy"); err != nil || code != http.StatusOK {
		t.Fatalf("POST /healthy = %d, %v", code, err)
	}
	health(agent.HealthHealthy)
	events.wait(t, ctx, id, "health_status", 3)
}

// TestStopTimeout stops a container that ignores SIGTERM: it is killed once
// the timeout passes.
func TestStopTimeout(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	id := run(t, ctx, agent.ContainerSpec{Cmd: []string{"serve", "-ignore-term"}})
	waitLog(t, ctx, id, "listening on")

	if err := rt.Stop(ctx, id, time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := rt.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != agent.StatusExited || st.ExitCode != 137 {
		t.Errorf("after Stop: %+v, want exited 137 (SIGKILL)", st)
	}
	if out := logs(t, ctx, id); !strings.Contains(out, "received SIGTERM, ignoring it") {
		t.Errorf("logs = %q, want SIGTERM received before the kill", out)
	}
}

// TestGone checks stopped and removed containers.
func TestGone(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	id := run(t, ctx, agent.ContainerSpec{Cmd: []string{"exit"}})
	waitExit(t, ctx, id)
	if err := rt.Stop(ctx, id, time.Second); err != nil {
		t.Errorf("Stop of a stopped container: %v", err)
	}
	if _, err := rt.Stats(ctx, id); !errors.Is(err, errNotRunning) {
		t.Errorf("Stats of a stopped container = %v, want errNotRunning", err)
	}
	if err := rt.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}

	calls := map[string]func() error{
		"Stop":    func() error { return rt.Stop(ctx, id, time.Second) },
		"Start":   func() error { return rt.Start(ctx, id) },
		"Remove":  func() error { return rt.Remove(ctx, id) },
		"Inspect": func() error { _, err := rt.Inspect(ctx, id); return err },
		"Logs":    func() error { return rt.Logs(ctx, id, &bytes.Buffer{}, false) },
		"Stats":   func() error { _, err := rt.Stats(ctx, id); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, agent.ErrNoSuchContainer) {
			t.Errorf("%s of a removed container = %v, want ErrNoSuchContainer", name, err)
		}
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	marker := randomSuffix()
	a := create(t, ctx, agent.ContainerSpec{Cmd: []string{"sleep"}, Labels: map[string]string{"flotilla.test.list": marker, "role": "a"}})
	b := run(t, ctx, agent.ContainerSpec{Cmd: []string{"exit"}, Labels: map[string]string{"flotilla.test.list": marker, "role": "b"}})
	waitExit(t, ctx, b)

	tests := []struct {
		labels map[string]string
		want   []string
	}{
		{map[string]string{"flotilla.test.list": marker}, []string{a, b}},
		{map[string]string{"flotilla.test.list": marker, "role": "a"}, []string{a}},
		{map[string]string{"flotilla.test.list": marker, "role": ""}, nil},
		{map[string]string{"flotilla.test.list": randomSuffix()}, nil},
	}
	for _, tt := range tests {
		states, err := rt.List(ctx, tt.labels)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, st := range states {
			got = append(got, st.ID)
			if st.Status != agent.StatusCreated && st.Status != agent.StatusExited {
				t.Errorf("List(%v): %s has status %q", tt.labels, st.ID, st.Status)
			}
		}
		slices.Sort(got)
		slices.Sort(tt.want)
		if !slices.Equal(got, tt.want) {
			t.Errorf("List(%v) = %v, want %v", tt.labels, got, tt.want)
		}
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	want := []string{"stdout 1", "stdout 2", "stdout 3", "stderr 1", "stderr 2", "stderr 3"}

	t.Run("exited", func(t *testing.T) {
		id := run(t, ctx, agent.ContainerSpec{Cmd: []string{"log", "-every", "10ms", "-n", "3"}})
		waitExit(t, ctx, id)
		out := logs(t, ctx, id)
		for _, line := range want {
			if !strings.Contains(out, line+"\n") {
				t.Errorf("logs = %q, want %q", out, line)
			}
		}
	})

	t.Run("follow until exit", func(t *testing.T) {
		id := run(t, ctx, agent.ContainerSpec{Cmd: []string{"log", "-every", "100ms", "-n", "3"}})
		var buf bytes.Buffer
		if err := rt.Logs(ctx, id, &buf, true); err != nil {
			t.Fatal(err)
		}
		for _, line := range want {
			if !strings.Contains(buf.String(), line+"\n") {
				t.Errorf("followed logs = %q, want %q", buf.String(), line)
			}
		}
	})

	t.Run("follow until cancelled", func(t *testing.T) {
		id := run(t, ctx, agent.ContainerSpec{Cmd: []string{"log", "-every", "50ms", "-n", "0"}})
		waitLog(t, ctx, id, "stdout 2\n")
		fctx, cancel := context.WithCancel(ctx)
		w := &notifyWriter{want: "stdout 4\n", seen: make(chan struct{})}
		go func() {
			<-w.seen
			cancel()
		}()
		if err := rt.Logs(fctx, id, w, true); !errors.Is(err, context.Canceled) {
			t.Fatalf("Logs = %v, want context.Canceled", err)
		}
	})
}

// notifyWriter closes seen once what it was written contains want.
type notifyWriter struct {
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	n, _ := w.buf.Write(p)
	if w.want != "" && strings.Contains(w.buf.String(), w.want) {
		w.want = ""
		close(w.seen)
	}
	return n, nil
}

// TestVolumes writes to a named volume from one container and reads it back
// from others, through a mount and through VolumesFrom.
func TestVolumes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	vol := uniqueName(t)
	t.Cleanup(func() { // runs after the containers' cleanups
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rt.cli.VolumeRemove(ctx, vol, true); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("cleanup: %v", err)
		}
	})

	writer := run(t, ctx, agent.ContainerSpec{
		Cmd:    []string{"write", "-path", "/data/greeting", "-text", "hello volume"},
		Mounts: []agent.Mount{{Type: "volume", Source: vol, Target: "/data"}},
	})
	if st := waitExit(t, ctx, writer); st.ExitCode != 0 {
		t.Fatalf("write exited %d: %s", st.ExitCode, logs(t, ctx, writer))
	}

	readers := map[string]agent.ContainerSpec{
		"mount": {
			Cmd:    []string{"cat", "-path", "/data/greeting"},
			Mounts: []agent.Mount{{Type: "volume", Source: vol, Target: "/data", ReadOnly: true}},
		},
		"volumes from": {
			Cmd:         []string{"cat", "-path", "/data/greeting"},
			VolumesFrom: []string{writer + ":ro"},
		},
		"read-only mount": {
			Cmd:    []string{"write", "-path", "/data/greeting", "-text", "overwritten"},
			Mounts: []agent.Mount{{Type: "volume", Source: vol, Target: "/data", ReadOnly: true}},
		},
	}
	for name, spec := range readers {
		id := run(t, ctx, spec)
		st := waitExit(t, ctx, id)
		out := logs(t, ctx, id)
		if name == "read-only mount" {
			if st.ExitCode == 0 || !strings.Contains(out, "read-only file system") {
				t.Errorf("%s: write exited %d: %q, want a read-only failure", name, st.ExitCode, out)
			}
			continue
		}
		if st.ExitCode != 0 || out != "hello volume" {
			t.Errorf("%s: cat exited %d: %q, want %q", name, st.ExitCode, out, "hello volume")
		}
	}
}

// TestAnonymousVolume checks that Remove removes a container's anonymous
// volumes.
func TestAnonymousVolume(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	id := create(t, ctx, agent.ContainerSpec{
		Cmd:    []string{"exit"},
		Mounts: []agent.Mount{{Type: "volume", Target: "/scratch"}},
	})
	info, err := rt.cli.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Mounts) != 1 || info.Mounts[0].Name == "" {
		t.Fatalf("mounts = %+v, want one anonymous volume", info.Mounts)
	}
	vol := info.Mounts[0].Name
	if err := rt.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.cli.VolumeInspect(ctx, vol); !cerrdefs.IsNotFound(err) {
		t.Errorf("volume %s after Remove: %v, want it gone", vol, err)
		_ = rt.cli.VolumeRemove(ctx, vol, true)
	}
}

// TestBindMount binds a host directory that does not exist yet: the engine
// creates it.
func TestBindMount(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "made", "by-engine")
	id := run(t, ctx, agent.ContainerSpec{
		Cmd:    []string{"write", "-path", "/host/file", "-text", "hello host"},
		Mounts: []agent.Mount{{Type: "bind", Source: dir, Target: "/host"}},
	})
	if st := waitExit(t, ctx, id); st.ExitCode != 0 {
		t.Fatalf("write exited %d: %s", st.ExitCode, logs(t, ctx, id))
	}
	got, err := os.ReadFile(filepath.Join(dir, "file"))
	if err != nil || string(got) != "hello host" {
		t.Errorf("host file = %q, %v; want %q", got, err, "hello host")
	}
}

func TestReadonlyRootfs(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	for _, readonly := range []bool{false, true} {
		id := run(t, ctx, agent.ContainerSpec{Cmd: []string{"touch", "-path", "/x"}, ReadonlyRootfs: readonly})
		st := waitExit(t, ctx, id)
		if failed := st.ExitCode != 0; failed != readonly {
			t.Errorf("touch /x with ReadonlyRootfs %v exited %d: %s", readonly, st.ExitCode, logs(t, ctx, id))
		}
	}
}

// TestCreateOptions checks that every other ContainerSpec field reaches the
// engine, and that the engine runs the result.
func TestCreateOptions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	spec := agent.ContainerSpec{
		Entrypoint:        []string{"/testapp", "sleep"},
		Cmd:               []string{"-for", "0"},
		WorkingDir:        "/work",
		User:              "65534:65534",
		Hostname:          "opts",
		CPUShares:         256,
		MemoryMiB:         128,
		MemoryReservation: 32,
		NetworkMode:       "bridge",
		ExtraHosts:        []string{"db.internal:10.0.0.5"},
		DNS:               []string{"10.0.0.2"},
		DNSSearch:         []string{"example.internal"},
		Ulimits:           []agent.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
		CapAdd:            []string{"NET_ADMIN"},
		CapDrop:           []string{"MKNOD"},
		Init:              true,
		Tmpfs:             map[string]string{"/scratch": "size=1m"},
		Sysctls:           map[string]string{"net.core.somaxconn": "512"},
		StopTimeout:       1500 * time.Millisecond,
		StopSignal:        "SIGINT",
	}
	id := run(t, ctx, spec)
	waitLog(t, ctx, id, "sleeping until terminated") // its signal handlers are in place

	info, err := rt.cli.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cfg, host := info.Config, info.HostConfig
	checks := []struct {
		name      string
		got, want any
	}{
		{"Entrypoint", []string(cfg.Entrypoint), spec.Entrypoint},
		{"Cmd", []string(cfg.Cmd), spec.Cmd},
		{"WorkingDir", cfg.WorkingDir, spec.WorkingDir},
		{"User", cfg.User, spec.User},
		{"Hostname", cfg.Hostname, spec.Hostname},
		{"StopSignal", cfg.StopSignal, spec.StopSignal},
		{"StopTimeout", *cfg.StopTimeout, 2},
		{"CPUShares", host.CPUShares, int64(256)},
		{"Memory", host.Memory, int64(128 << 20)},
		{"MemoryReservation", host.MemoryReservation, int64(32 << 20)},
		{"NetworkMode", string(host.NetworkMode), "bridge"},
		{"ExtraHosts", host.ExtraHosts, spec.ExtraHosts},
		{"DNS", host.DNS, spec.DNS},
		{"DNSSearch", host.DNSSearch, spec.DNSSearch},
		{"Ulimits", len(host.Ulimits) == 1 && host.Ulimits[0].Name == "nofile" && host.Ulimits[0].Soft == 1024 && host.Ulimits[0].Hard == 2048, true},
		{"CapAdd", capNames(host.CapAdd), spec.CapAdd},
		{"CapDrop", capNames(host.CapDrop), spec.CapDrop},
		{"Init", host.Init != nil && *host.Init, true},
		{"Tmpfs", host.Tmpfs["/scratch"], "size=1m"},
		{"Sysctls", host.Sysctls["net.core.somaxconn"], "512"},
	}
	for _, c := range checks {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// The stop signal is SIGINT, which the app names when it exits.
	if err := rt.Stop(ctx, id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st := waitExit(t, ctx, id)
	if out := logs(t, ctx, id); !strings.Contains(out, "terminated by SIGINT") {
		t.Errorf("exited %d with logs %q, want it terminated by SIGINT", st.ExitCode, out)
	}

	// ExtraHosts and DNS land in the container's files.
	for file, want := range map[string]string{"/etc/hosts": "10.0.0.5\tdb.internal", "/etc/resolv.conf": "nameserver 10.0.0.2"} {
		spec := spec
		spec.Entrypoint = nil
		spec.Cmd = []string{"cat", "-path", file}
		id := run(t, ctx, spec)
		waitExit(t, ctx, id)
		if out := logs(t, ctx, id); !strings.Contains(out, want) {
			t.Errorf("%s = %q, want %q in it", file, out, want)
		}
	}
}

func equal(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok && bok {
		return slices.Equal(as, bs)
	}
	return a == b
}

// capNames strips the CAP_ prefix the engine adds to capability names.
func capNames(caps []string) []string {
	var names []string
	for _, c := range caps {
		names = append(names, strings.TrimPrefix(c, "CAP_"))
	}
	return names
}
