package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/agent"
	"github.com/flotilla/flotilla/internal/testimage"
)

// These tests run against the real engine named by DOCKER_HOST (or the
// default socket). They fail, never skip, when it cannot be reached.

// testLabel marks everything the tests create.
const testLabel = "flotilla.test"

// rt is the Runtime under test, shared by all tests.
var rt *Runtime

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	err := testimage.Ensure(ctx, testimage.Tag)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "docker tests need a Docker Engine:", err)
		os.Exit(1)
	}
	if rt, err = New(Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	rt.Close()
	os.Exit(code)
}

// testContext bounds a test's calls to the engine.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// randomSuffix returns 8 random hex digits.
func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_.-]+`)

// uniqueName returns a container or volume name that names the test and
// cannot collide with another test's, in this process or another.
func uniqueName(t *testing.T) string {
	name := unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return "flotilla-test-" + name + "-" + randomSuffix()
}

// create creates a container from spec, naming it uniquely, defaulting the
// image to the test image and labelling it, and removes it when the test
// ends.
func create(t *testing.T, ctx context.Context, spec agent.ContainerSpec) string {
	t.Helper()
	if spec.Name == "" {
		spec.Name = uniqueName(t)
	}
	if spec.Image == "" {
		spec.Image = testimage.Tag
	}
	spec.Labels = maps.Clone(spec.Labels)
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[testLabel] = "1"
	id, err := rt.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rt.Remove(ctx, id); err != nil && !errors.Is(err, agent.ErrNoSuchContainer) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return id
}

// run creates and starts a container.
func run(t *testing.T, ctx context.Context, spec agent.ContainerSpec) string {
	t.Helper()
	id := create(t, ctx, spec)
	if err := rt.Start(ctx, id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return id
}

// waitFor polls the container until cond holds and returns its state.
func waitFor(t *testing.T, ctx context.Context, id, what string, cond func(agent.ContainerState) bool) agent.ContainerState {
	t.Helper()
	for {
		st, err := rt.Inspect(ctx, id)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if cond(st) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last state %+v", what, ctx.Err(), st)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitExit waits for the container to exit and returns its state.
func waitExit(t *testing.T, ctx context.Context, id string) agent.ContainerState {
	t.Helper()
	return waitFor(t, ctx, id, "exit", func(st agent.ContainerState) bool { return st.Status == agent.StatusExited })
}

// logs returns the container's output so far.
func logs(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := rt.Logs(ctx, id, &buf, false); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	return buf.String()
}

// waitLog waits until the container's output contains s.
func waitLog(t *testing.T, ctx context.Context, id, s string) {
	t.Helper()
	for !strings.Contains(logs(t, ctx, id), s) {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %q in the logs: %v; logs %q", s, ctx.Err(), logs(t, context.Background(), id))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// hostURL returns http://127.0.0.1:<host port> for the container's bound
// port.
func hostURL(t *testing.T, st agent.ContainerState, containerPort int) string {
	t.Helper()
	for _, p := range st.Ports {
		if p.ContainerPort == containerPort && p.Protocol == "tcp" {
			if p.HostPort == 0 {
				t.Fatalf("port %d bound to host port 0: %+v", containerPort, st.Ports)
			}
			return fmt.Sprintf("http://127.0.0.1:%d", p.HostPort)
		}
	}
	t.Fatalf("port %d not bound: %+v", containerPort, st.Ports)
	return ""
}

// httpDo sends one request and returns the status code and body.
func httpDo(ctx context.Context, method, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// waitHTTP retries GET url until it answers 200 and returns the body.
func waitHTTP(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	for {
		code, body, err := httpDo(ctx, "GET", url)
		if err == nil && code == http.StatusOK {
			return body
		}
		select {
		case <-ctx.Done():
			t.Fatalf("GET %s: %d %v: %v", url, code, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// eventLog collects the engine's events for a test.
type eventLog struct {
	mu     sync.Mutex
	events []agent.Event
	err    error
}

// watchEvents subscribes to events until the test ends.
func watchEvents(t *testing.T, ctx context.Context) *eventLog {
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	evc, errc := rt.Events(ctx)
	l := &eventLog{}
	go func() {
		for ev := range evc {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
		select {
		case err := <-errc:
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
		default:
		}
	}()
	return l
}

// of returns the events seen for container id with the given action.
func (l *eventLog) of(id, action string) []agent.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var evs []agent.Event
	for _, ev := range l.events {
		if ev.ID == id && ev.Action == action {
			evs = append(evs, ev)
		}
	}
	return evs
}

// wait waits for n events of container id with the given action and returns
// them.
func (l *eventLog) wait(t *testing.T, ctx context.Context, id, action string, n int) []agent.Event {
	t.Helper()
	for {
		if evs := l.of(id, action); len(evs) >= n {
			return evs
		}
		l.mu.Lock()
		err := l.err
		l.mu.Unlock()
		if err != nil {
			t.Fatalf("event stream broke: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d %s events of %s: %v", n, action, id, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
