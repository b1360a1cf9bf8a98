package scheduler

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
)

var benchTypes = []string{"t3.large", "t3.xlarge", "m5.large", "m5.xlarge", "c5.2xlarge", "t3.medium"}

// benchCluster returns n instances spread over 3 AZs, with several
// instance types, an OS type and two custom attributes, each with cpu units
// and mem MiB left.
func benchCluster(n, cpu, mem int) []flotilla.ContainerInstance {
	rng := rand.New(rand.NewPCG(42, 42))
	cis := make([]flotilla.ContainerInstance, n)
	for i := range cis {
		cis[i] = instance(fmt.Sprintf("%032x", rng.Uint64()), cpu, mem,
			"az="+azs[i%3], "type="+benchTypes[rng.IntN(len(benchTypes))], "ecs.os-type=linux",
			"stack="+[]string{"blue", "green"}[rng.IntN(2)], fmt.Sprintf("team=t%d", rng.IntN(8)))
	}
	return cis
}

// benchGroups is how many services' tasks the benchmarks place, in turn.
const benchGroups = 20

// BenchmarkPlace places tasks with spread(attribute:ecs.availability-zone),
// binpack(memory) and memberOf(attribute:ecs.instance-type =~ t3.*), ten per
// Place call (RunTask's maximum), on clusters of 100 to 10,000 instances.
// The cluster is kept half full: once it is, every task placed releases the
// oldest one (as a stopped task does), so the cost measured is the steady
// state, releases included.
func BenchmarkPlace(b *testing.B) {
	plan := mustCompile(b, []Constraint{memberOf("attribute:ecs.instance-type =~ t3.*")}, []Strategy{spreadAZ, binpackMemory})
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			benchPlace(b, plan, benchCluster(n, 8192, 16384))
		})
	}
}

// BenchmarkPlaceServiceSpread is the same with ECS's "AZ balanced spread"
// (spread on AZ, then on instanceId) and distinctInstance: the paths that
// move a group's instances out of the trees for the call.
func BenchmarkPlaceServiceSpread(b *testing.B) {
	plan := mustCompile(b, []Constraint{memberOf("attribute:ecs.instance-type =~ t3.*")}, []Strategy{spreadAZ, spreadInstance})
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			benchPlace(b, plan, benchCluster(n, 8192, 16384))
		})
	}
}

func benchPlace(b *testing.B, plan *Plan, cis []flotilla.ContainerInstance) {
	s := NewSnapshot(cis, nil)
	s.Seed(1)
	res := flotilla.Reservation{CPU: 128, MemoryMiB: 256}
	type live struct {
		id    string
		group string
	}
	// Half of the t3 capacity (about half the instances are t3).
	keep := len(cis) / 2 * (16384 / 256) / 2
	ring := make([]live, 0, keep)
	next := 0
	names := serviceNames(benchGroups)
	place := func(g int) bool {
		req := Request{Group: names[g%benchGroups], Reservation: res}
		got, fails := s.Place(plan, req, 10)
		for _, p := range got {
			if len(ring) < keep {
				ring = append(ring, live{p.InstanceID, req.Group})
				continue
			}
			old := ring[next]
			s.Release(old.id, old.group, res)
			ring[next] = live{p.InstanceID, req.Group}
			next = (next + 1) % keep
		}
		return fails == nil
	}
	for g := 0; len(ring) < keep; g++ { // fill to half, and build the view
		if !place(g) {
			b.Fatal("the cluster is full")
		}
	}
	b.ResetTimer()
	start := time.Now()
	placed := 0
	for g := 0; placed < b.N; g++ {
		if !place(g) {
			b.Fatal("the cluster is full")
		}
		placed += 10
	}
	b.ReportMetric(float64(placed)/time.Since(start).Seconds(), "placements/s")
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(placed), "ns/placement")
}

// BenchmarkPlaceMillion places 1,000,000 tasks (128 CPU units, 256 MiB, 100
// services in turn, ten per call) on 10,000 instances of 16 vCPU and 32 GiB,
// with spread(attribute:ecs.availability-zone), binpack(memory) and a
// memberOf every instance type satisfies, and reports the rate, the total
// time (building the snapshot included), the heap in use at the end
// (heap-MB, the 10,000 stored instances included) and what the snapshot and
// its indexes add to it (snapshot-heap-MB).
func BenchmarkPlaceMillion(b *testing.B) {
	const tasks, instances = 1_000_000, 10_000
	plan := mustCompile(b, []Constraint{memberOf(`attribute:ecs.instance-type =~ '(t3|m5|c5)\..*' and attribute:ecs.os-type == linux`)}, []Strategy{spreadAZ, binpackMemory})
	res := flotilla.Reservation{CPU: 128, MemoryMiB: 256}
	names := serviceNames(100)
	for range b.N {
		b.StopTimer()
		cis := benchCluster(instances, 16384, 32768)
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		start := time.Now()
		s := NewSnapshot(cis, nil)
		for k := 0; k < tasks; k += 10 {
			got, fails := s.Place(plan, Request{Group: names[k/10%100], Reservation: res}, 10)
			if len(got) != 10 {
				b.Fatalf("placed %d at %d: %v", len(got), k, fails[:min(3, len(fails))])
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(tasks/elapsed.Seconds(), "placements/s")
		b.ReportMetric(elapsed.Seconds(), "total-s")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
		b.ReportMetric(float64(int64(ms.HeapInuse)-int64(before.HeapInuse))/(1<<20), "snapshot-heap-MB")
		runtime.KeepAlive(s)
		runtime.KeepAlive(cis)
		b.StartTimer()
	}
}

func serviceNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("service:s%d", i)
	}
	return names
}

// BenchmarkParse parses a typical memberOf expression.
func BenchmarkParse(b *testing.B) {
	for range b.N {
		if _, err := ParseQuery("attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"); err != nil {
			b.Fatal(err)
		}
	}
}
