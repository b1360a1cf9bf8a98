package ecs

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// TestReregisterKeepsAccounting: an agent restarting re-registers its
// instance; the tasks it still runs keep their reservations and counts.
func TestReregisterKeepsAccounting(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(Config{Store: st, Account: flotilla.Account{Region: "us-east-1", ID: "123456789012"}})
	if _, err := s.CreateCluster(ctx, &wire.CreateClusterRequest{ClusterName: ptr.To("c")}); err != nil {
		t.Fatal(err)
	}
	res := []wire.Resource{{Name: ptr.To("CPU"), Type: ptr.To("INTEGER"), IntegerValue: ptr.To(int32(2048))},
		{Name: ptr.To("MEMORY"), Type: ptr.To("INTEGER"), IntegerValue: ptr.To(int32(1000))}}
	reg, err := s.RegisterContainerInstance(ctx, &wire.RegisterContainerInstanceRequest{Cluster: ptr.To("c"), TotalResources: res})
	if err != nil {
		t.Fatal(err)
	}
	arn := ptr.Deref(reg.ContainerInstance.ContainerInstanceArn)
	_, id, _ := s.instanceRef("c", arn)
	// A running task holding 300 MiB and host port 8080, as a placement leaves it.
	ci, rev, err := store.GetJSON[flotilla.ContainerInstance](ctx, st, flotilla.InstanceKey("c", id))
	if err != nil {
		t.Fatal(err)
	}
	r := flotilla.Reservation{CPU: 100, MemoryMiB: 300, Ports: []string{"8080"}}
	ci.Reserve(r)
	ci.RunningTasksCount = 1
	task := flotilla.Task{ID: "t1", Cluster: "c", InstanceID: id, LastStatus: flotilla.TaskRunning, DesiredStatus: flotilla.TaskRunning, Reservation: r}
	if _, err := st.Txn(ctx, store.Txn{Compares: []store.Compare{{Key: flotilla.InstanceKey("c", id), ModRevision: rev}},
		Ops: []store.Op{putJSON(flotilla.InstanceKey("c", id), ci), putJSON(flotilla.TaskKey("c", "t1"), task)}}); err != nil {
		t.Fatal(err)
	}

	again, err := s.RegisterContainerInstance(ctx, &wire.RegisterContainerInstanceRequest{Cluster: ptr.To("c"), TotalResources: res, ContainerInstanceArn: ptr.To(arn)})
	if err != nil {
		t.Fatal(err)
	}
	after, _, err := store.GetJSON[flotilla.ContainerInstance](ctx, st, flotilla.InstanceKey("c", id))
	if err != nil {
		t.Fatal(err)
	}
	if reason := after.Fit(flotilla.Reservation{Ports: []string{"8080"}}); reason != flotilla.ReasonPorts {
		t.Fatalf("after re-registering, port 8080 is free again (fit: %q)", reason)
	}
	if reason := after.Fit(flotilla.Reservation{MemoryMiB: 701}); reason != flotilla.ReasonMemory {
		t.Fatalf("after re-registering, the task's 300 MiB are free again (fit: %q)", reason)
	}
	if after.RunningTasksCount != 1 || *again.ContainerInstance.RunningTasksCount != 1 {
		t.Fatalf("running count %d after re-registering", after.RunningTasksCount)
	}
}
