package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

func runPlacer(t *testing.T, st store.Store) *scheduler.Placer {
	t.Helper()
	pl := scheduler.NewPlacer(st, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return pl
}

func putInstances(t *testing.T, st store.Store, cluster string, n int, memMiB int32) {
	t.Helper()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("i%02d", i)
		az := "us-east-1a"
		ci := flotilla.ContainerInstance{ID: id, ARN: "arn:aws:ecs:us-east-1:123456789012:container-instance/" + cluster + "/" + id,
			Cluster: cluster, Status: flotilla.InstanceActive, AgentConnected: true,
			Attributes:         []flotilla.Attribute{{Name: "ecs.availability-zone", Value: &az}},
			RemainingResources: []flotilla.Resource{{Name: "CPU", Type: "INTEGER", IntegerValue: 100000}, {Name: "MEMORY", Type: "INTEGER", IntegerValue: memMiB}}}
		op, err := store.PutJSON(flotilla.InstanceKey(cluster, id), ci)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Txn(context.Background(), store.Txn{Ops: []store.Op{op}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTwoPlacersNeverOverCommit races two placers (as two servers would) on
// one store until the cluster is full: every task either commits within
// capacity or fails, and no instance goes below zero.
func TestTwoPlacersNeverOverCommit(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	putInstances(t, st, "c", 5, 1000)
	placers := []*scheduler.Placer{runPlacer(t, st), runPlacer(t, st)}
	plan, err := scheduler.Compile(nil, []scheduler.Strategy{{Type: "random"}})
	if err != nil {
		t.Fatal(err)
	}
	var placed atomic.Int64
	var seq atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 6; i++ {
				res := flotilla.Reservation{CPU: 1, MemoryMiB: 100}
				out, err := placers[(w+i)%2].Place(context.Background(), scheduler.PlaceRequest{Cluster: "c", Plan: plan, Count: 1,
					Request: scheduler.Request{Group: "g", Reservation: res},
					NewTask: func(ci *flotilla.ContainerInstance) flotilla.Task {
						id := fmt.Sprintf("t%04d", seq.Add(1))
						return flotilla.Task{ID: id, InstanceID: ci.ID, Group: "g", DesiredStatus: flotilla.TaskRunning, Reservation: res, CreatedAt: time.Now()}
					}})
				if err != nil {
					t.Error(err)
					return
				}
				placed.Add(int64(len(out.Tasks)))
			}
		}()
	}
	wg.Wait()
	if placed.Load() != 50 {
		t.Fatalf("%d tasks placed; 5 instances of 1000 MiB hold exactly 50 tasks of 100 MiB", placed.Load())
	}
	tasks, _, err := st.List(context.Background(), flotilla.ClusterTasksPrefix("c"), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	perInstance := map[string]int{}
	for _, kv := range tasks {
		var task flotilla.Task
		if err := json.Unmarshal(kv.Value, &task); err != nil {
			t.Fatal(err)
		}
		perInstance[task.InstanceID]++
	}
	insts, _, err := st.List(context.Background(), flotilla.ClusterInstancesPrefix("c"), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range insts {
		var ci flotilla.ContainerInstance
		if err := json.Unmarshal(kv.Value, &ci); err != nil {
			t.Fatal(err)
		}
		mem := -1
		for _, r := range ci.RemainingResources {
			if r.Name == "MEMORY" {
				mem = int(r.IntegerValue)
			}
		}
		if mem < 0 || mem+100*perInstance[ci.ID] != 1000 {
			t.Fatalf("instance %s: %d MiB remaining with %d tasks stored on it", ci.ID, mem, perInstance[ci.ID])
		}
	}
}

// TestRequiredAttributes checks that instances lacking a required attribute
// get no task and fail with ATTRIBUTE.
func TestRequiredAttributes(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	putInstances(t, st, "c", 2, 1000)
	pl := runPlacer(t, st)
	plan, err := scheduler.Compile(nil, []scheduler.Strategy{{Type: "random"}})
	if err != nil {
		t.Fatal(err)
	}
	plan, err = plan.RequireAttributes([]string{"ecs.capability.container-health-check"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := pl.Place(context.Background(), scheduler.PlaceRequest{Cluster: "c", Plan: plan, Count: 1,
		Request: scheduler.Request{Group: "g", Reservation: flotilla.Reservation{MemoryMiB: 10}},
		NewTask: func(ci *flotilla.ContainerInstance) flotilla.Task { return flotilla.Task{ID: "x", InstanceID: ci.ID} }})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 0 || len(out.Failures) != 2 || out.Failures[0].Reason != scheduler.ReasonAttribute {
		t.Fatalf("placed %d, failures %+v", len(out.Tasks), out.Failures)
	}
}
