package scheduler

import (
	"slices"

	"github.com/flotilla/flotilla"
)

// Request is what one task needs to be placed.
type Request struct {
	// Group is the task's group: "service:<name>" for a service's tasks,
	// RunTask's group, by default "family:<family>". Spread counts and
	// distinctInstance look at the tasks of this group.
	Group string
	// Reservation is what the task holds on its instance: CPU units, MiB of
	// memory and static host ports.
	Reservation flotilla.Reservation
}

// Placement is where one task goes.
type Placement struct {
	InstanceID  string
	InstanceARN string
}

// Failure says why a task could not go on an instance, in ECS's words
// (flotilla.ReasonCPU, ReasonMemberOf, ...). InstanceID is empty for
// ReasonNoInstances, which is about the cluster.
type Failure struct {
	InstanceID  string
	InstanceARN string
	Reason      string
}

type request struct {
	cpu, mem int64
	ports    [2][]string
}

func newRequest(r flotilla.Reservation) *request {
	return &request{cpu: int64(r.CPU), mem: int64(r.MemoryMiB),
		ports: [2][]string{slices.Compact(sortedCopy(r.Ports)), slices.Compact(sortedCopy(r.UDPPorts))}}
}

// Place places up to n tasks of req with plan p, one after the other, each
// on the instance ECS would choose: among the ACTIVE instances with a
// connected agent where the task fits (CPU, memory, ports) and that satisfy
// the constraints, the first in the order of the strategies, the next
// strategy breaking the ties of the one before and the instance added first
// (lowest ID) breaking the last ties. It reserves each task's resources on
// the snapshot before placing the next.
//
// When a task fits nowhere, Place stops and returns, with the placements
// made, the reason each instance refused that task (one Failure per
// instance, or one ReasonNoInstances failure for an empty cluster).
func (s *Snapshot) Place(p *Plan, req Request, n int) ([]Placement, []Failure) {
	r := newRequest(req.Reservation)
	g := s.groupID(req.Group)
	gr := s.groups[g]
	v := s.keyedView(p, gr, r)
	if v == nil {
		v = s.view(p)
		if !v.generic {
			v.begin(s, &call{g: gr, distinct: p.distinct, spreadInst: p.spreadInst, ports: r.ports})
			defer v.finish(s)
		}
	}
	var out []Placement
	for range n {
		var i int32
		if v.generic {
			i = s.pickGeneric(v, p, gr, r)
		} else {
			i = s.pickFast(v, p, gr, r)
		}
		if i == nilNode {
			return out, s.failures(v, p, gr, r)
		}
		s.reserve(i, g, r)
		out = append(out, Placement{InstanceID: s.insts[i].id, InstanceARN: s.insts[i].arn})
	}
	return out, nil
}

// PlaceOn places one task of req on each named instance, as StartTask does:
// without strategies or constraints, failing with MISSING for an unknown
// instance and with the ECS reason when the task does not fit.
func (s *Snapshot) PlaceOn(req Request, instanceIDs []string) ([]Placement, []Failure) {
	r := newRequest(req.Reservation)
	g := s.groupID(req.Group)
	var out []Placement
	var failures []Failure
	for _, id := range instanceIDs {
		i, ok := s.byID[id]
		if !ok {
			failures = append(failures, Failure{InstanceID: id, Reason: flotilla.ReasonMissing})
			continue
		}
		if reason := s.refusal(i, r); reason != "" {
			failures = append(failures, Failure{InstanceID: id, InstanceARN: s.insts[i].arn, Reason: reason})
			continue
		}
		s.reserve(i, g, r)
		out = append(out, Placement{InstanceID: id, InstanceARN: s.insts[i].arn})
	}
	return out, failures
}

// pickFast finds the best instance with the view's indexes: it ranks the
// leaves by the group's task counts on their spread attribute values, and
// in the first class of equal leaves that has room, takes the first
// instance of their trees.
func (s *Snapshot) pickFast(v *view, p *Plan, gr *group, r *request) int32 {
	if len(v.leaves) == 0 {
		return nilNode
	}
	if len(v.spread) == 0 || len(v.leaves) == 1 {
		s.class = s.class[:0]
		for l := range v.leaves {
			s.class = append(s.class, int32(l))
		}
		return s.bestIn(v, p, r, s.class)
	}
	rank := s.rank[:0]
	for l := range v.leaves {
		rank = append(rank, ranked{leaf: int32(l)})
	}
	s.rank = rank
	for j, a := range v.spread {
		counts := s.spreadCounts(gr, a)
		for l := range rank {
			rank[l].key[j] = counts[v.leaves[l].vals[j]]
		}
	}
	slices.SortFunc(rank, func(a, b ranked) int {
		for j := range a.key {
			if a.key[j] != b.key[j] {
				return int(a.key[j] - b.key[j])
			}
		}
		return int(a.leaf - b.leaf)
	})
	class := s.class
	defer func() { s.class = class }()
	for a := 0; a < len(rank); {
		b := a + 1
		for b < len(rank) && rank[b].key == rank[a].key {
			b++
		}
		class = class[:0]
		for _, rk := range rank[a:b] {
			class = append(class, rk.leaf)
		}
		if i := s.bestIn(v, p, r, class); i != nilNode {
			return i
		}
		a = b
	}
	return nilNode
}

// ranked is a leaf with the group's task counts on its spread values.
type ranked struct {
	key  [MaxStrategies]int32
	leaf int32
}

// bestIn returns the first instance in key order of the given leaves'
// trees, or a random one of them for the random strategy.
func (s *Snapshot) bestIn(v *view, p *Plan, r *request, leaves []int32) int32 {
	if p.random {
		return s.pickRandom(v, r, leaves)
	}
	best := int32(nilNode)
	for _, l := range leaves {
		lf := &v.leaves[l]
		x := v.f.first(lf.base, r.mem, r.cpu)
		// In a keyed view, the first instance where the task fits is the
		// best one; when even that one has the port taken, or a task of
		// the group under distinctInstance, none will do.
		if x != nilNode && (v.f.n[x].k[0] >= portPenalty || p.distinct && v.group != nil && v.f.n[x].k[0] > 0) {
			x = nilNode
		}
		if x != nilNode && (best == nilNode || v.f.less(x, best)) {
			best = x
		}
		if p.spreadInst {
			if x := v.f.first(lf.temp, r.mem, r.cpu); x != nilNode && (best == nilNode || v.f.less(x, best)) {
				best = x
			}
		}
	}
	return best
}

// pickRandom returns an instance chosen uniformly among those of the leaves
// where the task fits: by drawing a few times, then, when the draws keep
// missing, by listing them.
func (s *Snapshot) pickRandom(v *view, r *request, leaves []int32) int32 {
	total := int32(0)
	for _, l := range leaves {
		total += v.f.size(v.leaves[l].base)
	}
	if total == 0 {
		return nilNode
	}
	for range 16 {
		k := s.rng.Int32N(total)
		for _, l := range leaves {
			t := v.leaves[l].base
			if sz := v.f.size(t); k >= sz {
				k -= sz
				continue
			}
			x := v.f.kth(t, k)
			if n := &v.f.n[x]; n.mem >= r.mem && n.cpu >= r.cpu {
				return x
			}
			break
		}
	}
	var fit []int32
	for _, l := range leaves {
		fit = v.f.collect(v.leaves[l].base, r.mem, r.cpu, fit)
	}
	if len(fit) == 0 {
		return nilNode
	}
	return fit[s.rng.IntN(len(fit))]
}

// pickGeneric finds the best instance by looking at every member: the
// reference the indexes must agree with, and the answer for plans whose
// strategies the indexes do not cover (binpack then spread, random after
// another strategy, ...).
func (s *Snapshot) pickGeneric(v *view, p *Plan, gr *group, r *request) int32 {
	attrs := make([]int32, len(p.strategies))
	counts := make([][]int32, len(p.strategies))
	for j, st := range p.strategies {
		if st.kind == kindSpreadAttr {
			attrs[j] = s.attrID(st.attr)
			counts[j] = s.spreadCounts(gr, attrs[j])
		}
	}
	best := int32(nilNode)
	var bestKey, key [MaxStrategies]int64
	for i := range s.insts {
		if v.loc[i] == locAbsent {
			continue
		}
		in := &s.insts[i]
		if in.cpu < r.cpu || in.mem < r.mem || takenAny(in, r.ports) || p.distinct && gr.per[int32(i)] > 0 {
			continue
		}
		for j, st := range p.strategies {
			switch st.kind {
			case kindSpreadAttr:
				key[j] = int64(counts[j][in.value(attrs[j])])
			case kindSpreadInstance:
				key[j] = int64(gr.per[int32(i)])
			case kindBinpack:
				key[j] = in.amount(st.res)
			case kindRandom:
				key[j] = s.rng.Int64()
			}
		}
		if best == nilNode || slices.Compare(key[:], bestKey[:]) < 0 {
			best, bestKey = int32(i), key
		}
	}
	return best
}

// takenAny reports whether one of ports is taken on the instance.
func takenAny(in *inst, ports [2][]string) bool {
	for proto, ports := range ports {
		for _, p := range ports {
			if hasPort(in.ports[proto], p) {
				return true
			}
		}
	}
	return false
}

// refusal returns why the task cannot go on instance i regardless of
// constraints, or "".
func (s *Snapshot) refusal(i int32, r *request) string {
	in := &s.insts[i]
	switch {
	case in.status != flotilla.InstanceActive:
		return flotilla.ReasonInactive
	case !in.agent:
		return flotilla.ReasonAgent
	case in.cpu < r.cpu:
		return flotilla.ReasonCPU
	case in.mem < r.mem:
		return flotilla.ReasonMemory
	}
	for _, p := range r.ports[tcp] {
		if hasPort(in.ports[tcp], p) {
			return flotilla.ReasonPorts
		}
	}
	for _, p := range r.ports[udp] {
		if hasPort(in.ports[udp], p) {
			return flotilla.ReasonPortsUDP
		}
	}
	return ""
}

// failures says, for each instance, why the task does not go there: status,
// agent, resources, then constraints.
func (s *Snapshot) failures(v *view, p *Plan, gr *group, r *request) []Failure {
	if len(s.byID) == 0 {
		return []Failure{{Reason: ReasonNoInstances}}
	}
	var out []Failure
	for i := range s.insts {
		in := &s.insts[i]
		if !in.live {
			continue
		}
		reason := s.refusal(int32(i), r)
		switch {
		case reason != "":
		case v.loc[i] == locAbsent && p.requires != nil && !p.requires.Root.eval(instTarget{s: s, i: in}):
			reason = ReasonAttribute
		case v.loc[i] == locAbsent:
			reason = ReasonMemberOf
		case p.distinct && gr.per[int32(i)] > 0:
			reason = ReasonDistinctInstance
		default:
			continue
		}
		out = append(out, Failure{InstanceID: in.id, InstanceARN: in.arn, Reason: reason})
	}
	return out
}
