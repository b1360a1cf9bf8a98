package lbnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
)

// TestFailuresLogged checks which failures of a run are logged: the 1st,
// 10th, 100th, 1000th; and that a success ends the run.
func TestFailuresLogged(t *testing.T) {
	var f failures
	var logged []int
	for range 1200 {
		if n, log := f.fail(); log {
			logged = append(logged, n)
		}
	}
	if want := []int{1, 10, 100, 1000}; !equal(logged, want) {
		t.Fatalf("logged failures %v, want %v", logged, want)
	}
	if n := f.ok(); n != 1200 {
		t.Fatalf("ok = %d, want 1200", n)
	}
	if n := f.ok(); n != 0 {
		t.Fatalf("second ok = %d, want 0", n)
	}
	if n, log := f.fail(); n != 1 || !log {
		t.Fatalf("first failure of a new run: %d, %v", n, log)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fullSource gives one configuration and refuses every report, as a
// server whose disk is full does; attempts receives each report.
type fullSource struct{ attempts chan struct{} }

func (s fullSource) Config(ctx context.Context, after int64) (lb.Config, int64, error) {
	if after == 0 {
		return lb.Config{}, 1, nil
	}
	<-ctx.Done()
	return lb.Config{}, 0, ctx.Err()
}

func (s fullSource) Report(ctx context.Context, _ Report) error {
	select {
	case s.attempts <- struct{}{}:
	case <-ctx.Done():
	}
	return errors.New("report: status 503: the report could not be stored: the server's disk is full")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestReporterLogsOnce checks that a node whose reports keep failing logs
// the failure once, not on every attempt.
func TestReporterLogsOnce(t *testing.T) {
	var logs syncBuffer
	src := fullSource{attempts: make(chan struct{})}
	node, err := NewNode(NodeConfig{ID: "n1", Source: src, Heartbeat: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), LB: lb.Options{ShutdownTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	for range 9 {
		<-src.attempts
	}
	cancel()
	<-done
	if n := strings.Count(logs.String(), "report target health"); n != 1 {
		t.Fatalf("9 failed reports logged %d times, want 1:\n%s", n, logs.String())
	}
}

// diskFullSource refuses every report as a store on a full disk does.
type diskFullSource struct{ fullSource }

func (diskFullSource) Report(context.Context, Report) error {
	return fmt.Errorf("store report: %w", &fs.PathError{Op: "write", Path: "state.db", Err: syscall.ENOSPC})
}

// TestHandlerDiskFull checks that the server answers a report it cannot
// store for a full disk 503 saying so, and logs the run of failures once.
func TestHandlerDiskFull(t *testing.T) {
	var logs syncBuffer
	h := Handler(diskFullSource{}, slog.New(slog.NewTextHandler(&logs, nil)))
	for range 5 {
		req := httptest.NewRequest(http.MethodPut, Path+"/nodes/n1", strings.NewReader(`{"node":"n1","appliedRevision":1}`))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "disk is full") {
			t.Fatalf("report on a full disk: %d %s", rec.Code, rec.Body)
		}
	}
	if n := strings.Count(logs.String(), "store a node's report"); n != 1 {
		t.Fatalf("5 failed reports logged %d times, want 1:\n%s", n, logs.String())
	}
}
