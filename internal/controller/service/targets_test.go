package service

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// fakeLoadBalancers has the groups of groups; the others are not found,
// and deregistering from goneOnWrite finds it deleted meanwhile.
type fakeLoadBalancers struct {
	groups      map[string]*elb.TargetGroupState
	goneOnWrite string
	deregister  []lb.Target
}

func notFoundErr(arn string) error {
	return fmt.Errorf("target group %s: %w", arn, elb.ErrTargetGroupNotFound)
}

func (f *fakeLoadBalancers) TargetGroupState(_ context.Context, arn string) (*elb.TargetGroupState, error) {
	if g, ok := f.groups[arn]; ok {
		return g, nil
	}
	return nil, notFoundErr(arn)
}

func (f *fakeLoadBalancers) RegisterTaskTargets(_ context.Context, arn string, _ []lb.Target) error {
	return fmt.Errorf("unexpected registration with %s", arn)
}

func (f *fakeLoadBalancers) DeregisterTaskTargets(_ context.Context, arn string, targets []lb.Target) error {
	f.deregister = append(f.deregister, targets...)
	if arn == f.goneOnWrite {
		return notFoundErr(arn)
	}
	return nil
}

// finishingTasks records FinishDeactivation; the controller may call
// nothing else here.
type finishingTasks struct{ finished []string }

func (*finishingTasks) StartServiceTasks(context.Context, *flotilla.Service, string, string, int, string) ([]flotilla.Task, []scheduler.Failure, error) {
	return nil, nil, fmt.Errorf("unexpected start")
}

func (*finishingTasks) StopServiceTask(context.Context, string, string, string, string, bool) error {
	return fmt.Errorf("unexpected stop")
}

func (*finishingTasks) SetTaskTargets(context.Context, string, string, []flotilla.TaskTarget) (*flotilla.Task, error) {
	return nil, fmt.Errorf("unexpected targets")
}

func (f *finishingTasks) FinishDeactivation(_ context.Context, _, taskID string) error {
	f.finished = append(f.finished, taskID)
	return nil
}

// TestSyncTargetsGroupGone: a target group that no longer exists
// (elb.ErrTargetGroupNotFound, on reading it or on deregistering from it)
// is no error: a deactivating task whose group is gone has drained, and
// one whose group goes while it is deregistered waits out the delay.
func TestSyncTargetsGroupGone(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{InitialMmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const live, gone = "arn:tg/live", "arn:tg/gone"
	lbs := &fakeLoadBalancers{goneOnWrite: live, groups: map[string]*elb.TargetGroupState{
		live: {ARN: live, TargetType: lb.TargetTypeInstance, Targets: []lb.Target{{ID: "i-1", Port: 8080}}, Revision: 3, DeregistrationDelay: 300 * time.Second},
	}}
	tasks := &finishingTasks{}
	c := New(Config{Store: st, Tasks: tasks, LoadBalancers: lbs, Clock: func() time.Time { return t0 }})
	deactivating := func(id, group string) flotilla.Task {
		return flotilla.Task{ID: id, Cluster: "c", DesiredStatus: flotilla.TaskStopped, LastStatus: flotilla.TaskDeactivating, StoppingAt: t0,
			Targets: []flotilla.TaskTarget{{TargetGroupARN: group, ID: "i-1", Port: 8080}}}
	}
	_, _, next, err := c.syncTargets(context.Background(), &flotilla.Service{Name: "web", Cluster: "c"},
		[]flotilla.Task{deactivating("t-gone", gone), deactivating("t-live", live)}, nil)
	if err != nil {
		t.Fatalf("syncTargets: %v", err)
	}
	if !slices.Equal(tasks.finished, []string{"t-gone"}) {
		t.Errorf("finished %v, want t-gone", tasks.finished)
	}
	if !slices.Equal(lbs.deregister, []lb.Target{{ID: "i-1", Port: 8080}}) {
		t.Errorf("deregistered %v", lbs.deregister)
	}
	if want := t0.Add(300 * time.Second); !next.Equal(want) {
		t.Errorf("next %v, want %v", next, want)
	}
}
