package service

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// restartingStore is a real store whose watches all close at once, as
// when the controller falls behind, so that every run of the controller's
// watch reconciles once and starts again. Each Rev moves the clock on by
// step; the Revs numbered in failRev fail (the store is unreachable), as do
// the Watches of the runs numbered in failWatch; the Rev numbered stopAt
// ends the test.
type restartingStore struct {
	store.Store
	step      time.Duration
	failRev   map[int]bool
	failWatch map[int]bool
	stopAt    int
	stop      context.CancelFunc

	mu   sync.Mutex
	now  time.Time
	revs int
}

func (s *restartingStore) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *restartingStore) Rev(ctx context.Context) (int64, error) {
	s.mu.Lock()
	s.revs++
	s.now = s.now.Add(s.step)
	n := s.revs
	s.mu.Unlock()
	switch {
	case n == s.stopAt:
		s.stop()
		return 0, context.Canceled
	case s.failRev[n]:
		return 0, errors.New("store unreachable")
	}
	return s.Store.Rev(ctx)
}

func (s *restartingStore) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan store.Event, error) {
	s.mu.Lock()
	n := s.revs
	s.mu.Unlock()
	if s.failWatch[n] {
		return nil, errors.New("store unreachable")
	}
	ch := make(chan store.Event)
	close(ch)
	return ch, nil
}

// startsRecorder is the controller's Tasks, recording the starts asked for.
type startsRecorder struct {
	mu     sync.Mutex
	starts int
}

func (r *startsRecorder) StartServiceTasks(ctx context.Context, svc *flotilla.Service, deploymentID, taskDefinitionARN string, count int, instanceID string) ([]flotilla.Task, []scheduler.Failure, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts++
	return nil, nil, nil
}

func (r *startsRecorder) StopServiceTask(ctx context.Context, cluster, taskID, code, reason string, lost bool) error {
	return nil
}

func (r *startsRecorder) SetTaskTargets(ctx context.Context, cluster, taskID string, targets []flotilla.TaskTarget) (*flotilla.Task, error) {
	return nil, errors.New("no targets here")
}

func (r *startsRecorder) FinishDeactivation(ctx context.Context, cluster, taskID string) error {
	return nil
}

// TestRunHeardSinceAcrossRestarts covers Input.HeardSince as Run keeps
// it: a watch that starts again (fell behind, compacted) keeps it, so a
// task on an agent gone for good counts as lost once the grace period has
// passed since the store first answered, however often the watch starts
// again; a store that could not be reached moves it to when the store
// answered again.
func TestRunHeardSinceAcrossRestarts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failRev   map[int]bool
		failWatch map[int]bool
		stopAt    int
		wantLost  bool
	}{{
		// Runs at t0+20s, +40s, +60s: 40s since the store answered.
		name: "watch restarts", stopAt: 4, wantLost: true,
	}, {
		// The store answers again at t0+80s; the last run is at t0+100s.
		name: "store lost", failRev: map[int]bool{3: true}, stopAt: 6,
	}, {
		name: "watch failed", failWatch: map[int]bool{3: true}, stopAt: 6,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{InitialMmapSize: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			// The service's one task is on an instance whose agent left an
			// hour before.
			var ops []store.Op
			for key, v := range map[string]any{
				flotilla.ServiceKey("prod", svcName): steadyService(1),
				flotilla.TaskKey("prod", "a"):        newTask("a", "1", "a1", flotilla.TaskRunning),
				flotilla.InstanceKey("prod", "a1"):   away("a1", "a", time.Hour),
			} {
				op, err := store.PutJSON(key, v)
				if err != nil {
					t.Fatal(err)
				}
				ops = append(ops, op)
			}
			if _, err := st.Txn(ctx, store.Txn{Ops: ops}); err != nil {
				t.Fatal(err)
			}
			rs := &restartingStore{Store: st, step: 20 * time.Second, failRev: tc.failRev, failWatch: tc.failWatch,
				stopAt: tc.stopAt, stop: cancel, now: t0}
			tasks := &startsRecorder{}
			c := New(Config{Store: rs, Tasks: tasks, InstanceGracePeriod: 30 * time.Second, Clock: rs.clock})
			if err := c.Run(ctx); err != nil {
				t.Fatal(err)
			}
			tasks.mu.Lock()
			defer tasks.mu.Unlock()
			if lost := tasks.starts > 0; lost != tc.wantLost {
				t.Errorf("a replacement was asked for: %v, want %v", lost, tc.wantLost)
			}
		})
	}
}
