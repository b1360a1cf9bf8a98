package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/ptr"
)

var (
	azs       = []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	types     = []string{"t3.micro", "t3.large", "m5.large", "m5.xlarge", "c5.2xlarge"}
	stacks    = []string{"blue", "green", ""} // "" is no attribute
	testGroup = []string{"service:web", "service:db", "family:batch", "service:cache"}
)

// randomCluster returns n instances of varied sizes, zones, types and
// states, with tasks of the test groups on some of them.
func randomCluster(rng *rand.Rand, n int) ([]flotilla.ContainerInstance, map[string][]string) {
	var cis []flotilla.ContainerInstance
	groups := map[string][]string{}
	for i := range n {
		attrs := []string{"az=" + azs[rng.IntN(len(azs))], "type=" + types[rng.IntN(len(types))]}
		if st := stacks[rng.IntN(len(stacks))]; st != "" {
			attrs = append(attrs, "stack="+st)
		}
		ci := instance(fmt.Sprintf("i%04d", i), 256*(1+rng.IntN(16)), 512*(1+rng.IntN(16)), attrs...)
		switch rng.IntN(20) {
		case 0:
			ci.Status = flotilla.InstanceDraining
		case 1:
			ci.AgentConnected = false
		}
		ci.RunningTasksCount = int32(rng.IntN(4))
		if rng.IntN(4) == 0 {
			ci.RemainingResources[2].StringSetValue = append(ci.RemainingResources[2].StringSetValue, "80")
		}
		for range rng.IntN(3) {
			groups[ci.ID] = append(groups[ci.ID], testGroup[rng.IntN(len(testGroup))])
		}
		cis = append(cis, ci)
	}
	return cis, groups
}

var testExpressions = []string{
	"attribute:ecs.instance-type =~ t3.*",
	"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
	"attribute:stack == blue or attribute:stack !exists",
	"attribute:ecs.instance-type !~ c5.* and runningTasksCount < 3",
	"not(task:group == service:db)",
	"task:group == service:web or attribute:stack == green",
	"ec2InstanceId !in [i-i0001, i-i0002, i-i0003]",
}

var testStrategies = []Strategy{
	spreadAZ, spreadInstance, binpackMemory, binpackCPU,
	{Type: StrategySpread, Field: "attribute:ecs.instance-type"},
	{Type: StrategySpread, Field: "attribute:stack"},
}

func randomPlan(t *testing.T, rng *rand.Rand, withRandom bool) *Plan {
	var cs []Constraint
	if rng.IntN(3) == 0 {
		cs = append(cs, distinct)
	}
	for range rng.IntN(3) {
		cs = append(cs, memberOf(testExpressions[rng.IntN(len(testExpressions))]))
	}
	var ss []Strategy
	for range rng.IntN(4) {
		ss = append(ss, testStrategies[rng.IntN(len(testStrategies))])
	}
	if withRandom && rng.IntN(3) == 0 {
		ss = append(ss, random)
	}
	return mustCompile(t, cs, ss)
}

func randomRequest(rng *rand.Rand) Request {
	r := Request{Group: testGroup[rng.IntN(len(testGroup))],
		Reservation: flotilla.Reservation{CPU: 64 * rng.IntN(12), MemoryMiB: 128 * (1 + rng.IntN(12))}}
	if rng.IntN(5) == 0 {
		r.Reservation.Ports = []string{"80"}
	}
	if rng.IntN(10) == 0 {
		r.Reservation.UDPPorts = []string{"53"}
	}
	return r
}

// forceGeneric returns p answered by scanning every instance, the reference
// the indexes must agree with.
func forceGeneric(p *Plan) *Plan {
	g := *p
	g.fast, g.spread, g.spreadInst, g.binpack, g.random = false, nil, false, nil, false
	g.viewKey = p.viewKey + "\x02generic"
	return &g
}

// TestIndexesAgreeWithScan runs the same random operations on two
// snapshots, one placing with the indexes and one by scanning every
// instance, and checks that they place every task on the same instance and
// fail with the same reasons.
func TestIndexesAgreeWithScan(t *testing.T) {
	defer func(k int) { keyedShare = k }(keyedShare)
	for _, share := range []int{0, 8, 1 << 30} { // never, sometimes, always keyed views
		keyedShare = share
		t.Run(fmt.Sprintf("keyedShare=%d", share), testIndexesAgreeWithScan)
	}
}

func testIndexesAgreeWithScan(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 1))
		cis, groups := randomCluster(rng, 5+rng.IntN(100))
		fast, slow := NewSnapshot(cis, groups), NewSnapshot(cis, groups)
		var plans []*Plan
		for range 4 {
			p := randomPlan(t, rng, false)
			plans = append(plans, p)
		}
		type placed struct {
			id  string
			req Request
		}
		var history []placed
		for step := range 40 {
			switch op := rng.IntN(10); {
			case op == 0 && len(history) > 0:
				k := rng.IntN(len(history))
				h := history[k]
				history = slices.Delete(history, k, k+1)
				fast.Release(h.id, h.req.Group, h.req.Reservation)
				slow.Release(h.id, h.req.Group, h.req.Reservation)
			case op == 1:
				ci := cis[rng.IntN(len(cis))]
				ci.Attributes = slices.Clone(ci.Attributes)
				ci.Attributes[0].Value = ptr.To(azs[rng.IntN(len(azs))])
				g := []string{testGroup[rng.IntN(len(testGroup))]}
				fast.Update(ci, g)
				slow.Update(ci, g)
			default:
				p := plans[rng.IntN(len(plans))]
				req := randomRequest(rng)
				n := 1 + rng.IntN(8)
				got, gotFail := fast.Place(p, req, n)
				want, wantFail := slow.Place(forceGeneric(p), req, n)
				if !slices.Equal(ids(got), ids(want)) || !slices.Equal(gotFail, wantFail) {
					t.Fatalf("seed %d step %d: %s %+v n=%d:\nindexes placed %v, failures %v\nscan    placed %v, failures %v",
						seed, step, p, req, n, ids(got), reasons(gotFail), ids(want), reasons(wantFail))
				}
				for _, pl := range got {
					history = append(history, placed{pl.InstanceID, req})
				}
			}
		}
	}
}

// TestPlacementInvariants checks every placement of random plans (random
// strategy included) against the domain's own Fit and the constraints
// evaluated on the stored instance: no instance is ever over-committed,
// constraints always hold, distinctInstance never doubles up, and a task
// fails only when no instance could take it.
func TestPlacementInvariants(t *testing.T) {
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 2))
		cis, groups := randomCluster(rng, 5+rng.IntN(80))
		s := NewSnapshot(cis, groups)
		s.Seed(seed)
		byID := map[string]*flotilla.ContainerInstance{}
		for i := range cis {
			byID[cis[i].ID] = &cis[i]
		}
		for range 30 {
			p := randomPlan(t, rng, true)
			req := randomRequest(rng)
			got, fails := s.Place(p, req, 1+rng.IntN(10))
			for _, pl := range got {
				ci := byID[pl.InstanceID]
				if why := refuses(ci, groups[ci.ID], p, req); why != "" {
					t.Fatalf("seed %d: %s placed %+v on %s: %s", seed, p, req, ci.ID, why)
				}
				ci.Reserve(req.Reservation)
				groups[ci.ID] = append(groups[ci.ID], req.Group)
			}
			for _, ci := range byID {
				cpu, mem, _ := s.Remaining(ci.ID)
				if cpu != int(ci.RemainingResources[0].IntegerValue) || mem != int(ci.RemainingResources[1].IntegerValue) {
					t.Fatalf("seed %d: snapshot has %d/%d left on %s, the instance %v", seed, cpu, mem, ci.ID, ci.RemainingResources[:2])
				}
			}
			if fails != nil {
				for _, ci := range byID {
					if refuses(ci, groups[ci.ID], p, req) == "" {
						t.Fatalf("seed %d: %s failed %+v but %s could take it", seed, p, req, ci.ID)
					}
				}
				if len(fails) != len(byID) {
					t.Fatalf("seed %d: %d failures for %d instances", seed, len(fails), len(byID))
				}
			}
		}
	}
}

// refuses says why the task may not go on ci, from the stored instance's
// point of view, or "".
func refuses(ci *flotilla.ContainerInstance, groups []string, p *Plan, req Request) string {
	c := *ci
	c.RemainingResources = slices.Clone(ci.RemainingResources)
	switch {
	case ci.Status != flotilla.InstanceActive || !ci.AgentConnected:
		return "not ACTIVE and connected"
	case c.Fit(req.Reservation) != "":
		return c.Fit(req.Reservation)
	case p.distinct && slices.Contains(groups, req.Group):
		return "distinctInstance"
	}
	for _, q := range p.queries {
		if !q.Match(ci, groups) {
			return "memberOf " + q.String()
		}
	}
	return ""
}

// TestSpreadStaysWithinOne checks that when nothing else constrains it,
// spread keeps the group's tasks within one of each other across the
// values of its field, after every placement.
func TestSpreadStaysWithinOne(t *testing.T) {
	fields := []Strategy{spreadAZ, spreadInstance, {Type: StrategySpread, Field: "attribute:ecs.instance-type"}}
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 3))
		var cis []flotilla.ContainerInstance
		for i := range 3 + rng.IntN(40) {
			cis = append(cis, instance(fmt.Sprintf("i%03d", i), 1<<20, 1<<20,
				"az="+azs[rng.IntN(len(azs))], "type="+types[rng.IntN(len(types))]))
		}
		field := fields[rng.IntN(len(fields))]
		ss := []Strategy{field}
		if rng.IntN(2) == 0 {
			ss = append(ss, []Strategy{binpackMemory, spreadInstance, random}[rng.IntN(3)])
		}
		s := NewSnapshot(cis, nil)
		s.Seed(seed)
		p := mustCompile(t, nil, ss)
		valueOf := map[string]string{}
		values := map[string]bool{}
		for _, ci := range cis {
			switch field {
			case spreadInstance:
				valueOf[ci.ID] = ci.ID
			case spreadAZ:
				valueOf[ci.ID] = *ci.Attributes[0].Value
			default:
				valueOf[ci.ID] = *ci.Attributes[1].Value
			}
			values[valueOf[ci.ID]] = true
		}
		count := map[string]int{}
		for range 20 {
			got, _ := s.Place(p, Request{Group: "service:web", Reservation: flotilla.Reservation{CPU: 1 + rng.IntN(100), MemoryMiB: 1 + rng.IntN(100)}}, 1+rng.IntN(10))
			for _, pl := range got {
				count[valueOf[pl.InstanceID]]++
				lo, hi := 1<<30, 0
				for v := range values {
					lo, hi = min(lo, count[v]), max(hi, count[v])
				}
				if hi-lo > 1 {
					t.Fatalf("seed %d, %s: counts %v differ by more than one", seed, p, count)
				}
			}
		}
	}
}

// TestDistinctInstanceProperty places a group's tasks in many calls with
// distinctInstance and checks that no instance ever runs two of them.
func TestDistinctInstanceProperty(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 4))
		cis, groups := randomCluster(rng, 10+rng.IntN(50))
		s := NewSnapshot(cis, groups)
		s.Seed(seed)
		p := mustCompile(t, []Constraint{distinct}, [][]Strategy{{binpackMemory}, {spreadAZ, spreadInstance}, {random}, {binpackCPU, spreadAZ}}[rng.IntN(4)])
		per := map[string]int{}
		for id, gs := range groups {
			for _, g := range gs {
				if g == "service:web" {
					per[id]++
				}
			}
		}
		for range 10 {
			got, _ := s.Place(p, Request{Group: "service:web", Reservation: flotilla.Reservation{CPU: 1, MemoryMiB: 1}}, 1+rng.IntN(8))
			for _, pl := range got {
				if per[pl.InstanceID]++; per[pl.InstanceID] > 1 {
					t.Fatalf("seed %d: %s put a second task of the group on %s", seed, p, pl.InstanceID)
				}
			}
		}
	}
}
