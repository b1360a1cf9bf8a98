package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// simulatedCluster writes n ACTIVE, connected instances (simulated: no agent
// behind them) into a real bbolt store, across 3 zones and 6 instance types.
func simulatedCluster(b *testing.B, n int, cpu, memMiB int32) (store.Store, string) {
	b.Helper()
	st, err := bolt.Open(filepath.Join(b.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cluster := "sim"
	acct := flotilla.Account{Region: "us-east-1", ID: "123456789012"}
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	types := []string{"t3.large", "t3.xlarge", "m5.large", "t3.medium", "c5.large", "t3.2xlarge"}
	var txn store.Txn
	flush := func() {
		if len(txn.Ops) == 0 {
			return
		}
		if _, err := st.Txn(context.Background(), txn); err != nil {
			b.Fatal(err)
		}
		txn = store.Txn{}
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%032x", i)
		az, typ := zones[i%3], types[i%len(types)]
		ci := flotilla.ContainerInstance{ID: id, ARN: acct.ContainerInstanceARN(cluster, id), Cluster: cluster,
			Status: flotilla.InstanceActive, AgentConnected: true, Version: 1, RegisteredAt: time.Now(),
			Attributes:          []flotilla.Attribute{{Name: "ecs.availability-zone", Value: &az}, {Name: "ecs.instance-type", Value: &typ}},
			RegisteredResources: []flotilla.Resource{{Name: "CPU", Type: "INTEGER", IntegerValue: cpu}, {Name: "MEMORY", Type: "INTEGER", IntegerValue: memMiB}},
			RemainingResources:  []flotilla.Resource{{Name: "CPU", Type: "INTEGER", IntegerValue: cpu}, {Name: "MEMORY", Type: "INTEGER", IntegerValue: memMiB}},
		}
		op, err := store.PutJSON(flotilla.InstanceKey(cluster, id), ci)
		if err != nil {
			b.Fatal(err)
		}
		txn.Ops = append(txn.Ops, op)
		if len(txn.Ops) == 1000 {
			flush()
		}
	}
	flush()
	return st, cluster
}

// benchPlan is the plan: spread by zone, then binpack on memory,
// with a memberOf constraint.
func benchPlan(b *testing.B) *scheduler.Plan {
	p, err := scheduler.Compile(
		[]scheduler.Constraint{{Type: "memberOf", Expression: "attribute:ecs.instance-type =~ t3.*"}},
		[]scheduler.Strategy{{Type: "spread", Field: "attribute:ecs.availability-zone"}, {Type: "binpack", Field: "memory"}})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// placeAll places total tasks from 50 concurrent clients, 10 per request,
// through the placer, and returns the placements/s.
func placeAll(b *testing.B, pl *scheduler.Placer, cluster string, plan *scheduler.Plan, total int) float64 {
	b.Helper()
	acct := flotilla.Account{Region: "us-east-1", ID: "123456789012"}
	var next, seq atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for w := 0; w < 50; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := min(10, total-int(next.Add(10))+10)
				if n <= 0 {
					return
				}
				group := "service:svc" + strconv.Itoa(w%20)
				res := flotilla.Reservation{CPU: 10, MemoryMiB: 32}
				out, err := pl.Place(context.Background(), scheduler.PlaceRequest{Cluster: cluster, Plan: plan, Count: n,
					Request: scheduler.Request{Group: group, Reservation: res},
					NewTask: func(ci *flotilla.ContainerInstance) flotilla.Task {
						id := fmt.Sprintf("%032x", seq.Add(1))
						return flotilla.Task{ID: id, ARN: acct.TaskARN(cluster, id), Cluster: cluster, InstanceID: ci.ID, InstanceARN: ci.ARN,
							Family: "web", Revision: 1, Group: group, LastStatus: flotilla.TaskProvisioning, DesiredStatus: flotilla.TaskRunning,
							LaunchType: "EC2", Reservation: res, Version: 1, CreatedAt: time.Now()}
					}})
				if err != nil {
					failed.Store(err)
					return
				}
				if len(out.Tasks) != n {
					failed.Store(fmt.Errorf("placed %d of %d: %+v", len(out.Tasks), n, out.Failures[:min(3, len(out.Failures))]))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return float64(total) / time.Since(start).Seconds()
}

// BenchmarkPlacerStore measures placements/s through the placer against a
// real bbolt store (durable batched commits), per cluster size.
func BenchmarkPlacerStore(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			// Room for every task of the run on the t3 half of the cluster.
			mem := int32(max(8192, b.N*32*4/n))
			st, cluster := simulatedCluster(b, n, 1<<30, mem)
			pl := scheduler.NewPlacer(st, nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { pl.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			plan := benchPlan(b)
			placeAll(b, pl, cluster, plan, 10) // load the cluster's snapshot
			b.ResetTimer()
			rate := placeAll(b, pl, cluster, plan, b.N)
			b.ReportMetric(rate, "placements/s")
		})
	}
}

// BenchmarkPlacerMillion places 1,000,000 tasks onto 10,000 simulated
// instances through the placer and the real store, and reports the time and
// the process's peak RSS. Run it alone: -bench PlacerMillion -benchtime 1x.
func BenchmarkPlacerMillion(b *testing.B) {
	st, cluster := simulatedCluster(b, 10000, 1<<30, 16384)
	pl := scheduler.NewPlacer(st, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pl.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	plan := benchPlan(b)
	b.ResetTimer()
	start := time.Now()
	var rate float64
	for i := 0; i < b.N; i++ {
		rate = placeAll(b, pl, cluster, plan, 1_000_000)
	}
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "seconds/million")
	b.ReportMetric(rate, "placements/s")
	b.ReportMetric(peakRSSMiB(), "peak_rss_MiB")
	runtime.KeepAlive(st)
}

// peakRSSMiB reads the process's peak resident set size.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
