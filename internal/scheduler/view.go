package scheduler

import (
	"slices"
	"strings"
)

// A view indexes the candidates of one kind of plan: the ACTIVE instances
// with a connected agent that satisfy its memberOf constraints, split into
// leaves by their values of the attributes the plan spreads on, each leaf a
// tree ordered by the plan's binpack fields. Plans with the same memberOf
// expressions, spread attributes and binpack fields share a view. A
// snapshot keeps the views of the plans it places with and keeps them up to
// date as instances change.
//
// A keyed view also orders its trees first by how many tasks of one group
// each instance runs (for distinctInstance and spread on instanceId) and by
// whether a port the task asks for is taken there, so that the first
// instance of a tree where the task fits is the answer, or there is none.
type view struct {
	key     string
	queries []*Query
	dynamic bool // membership depends on task groups
	generic bool // no trees: the plan is answered by a scan
	spread  []int32
	binpack []resource
	group   *group      // keyed by this group's tasks per instance
	ports   [2][]string // keyed by whether one of these ports is taken

	f      forest
	loc    []uint8 // by ordinal
	leafOf []int32 // by ordinal, -1 when not a member

	leaves     []leaf
	leafByVals map[[MaxStrategies]int32]int32

	call *call // the Place call in progress
	used uint64
}

// Where a view's member is.
const (
	locAbsent   uint8 = iota // not a member
	locBase                  // in its leaf's base tree
	locTemp                  // in its leaf's temp tree: runs tasks of the group being placed, spread on instanceId
	locOut                   // excluded from the call in progress (distinctInstance, a port taken)
	locDetached              // a member, out of the trees while it changes
)

type leaf struct {
	vals       [MaxStrategies]int32
	base, temp int32
}

// call is the state of one Place call on a view: instances that run tasks of
// the group or hold a port the task asks for are moved out of the base trees
// for the duration of the call, so that searches never wade through them.
type call struct {
	g          *group
	distinct   bool
	spreadInst bool
	ports      [2][]string
	moved      []int32
}

// maxViews bounds the views a snapshot keeps; the least recently used goes.
const maxViews = 32

// keyedShare is the inverse of the share of the cluster a group's or a
// port's instances must exceed for Place to keep a keyed view for them
// rather than move them for each call.
var keyedShare = 8

// portPenalty is added to the key of instances where a port the task asks
// for is taken: they sort after every instance where it is free.
const portPenalty = 1 << 40

// view returns the view that answers plan p, building it on first use.
func (s *Snapshot) view(p *Plan) *view {
	return s.viewKeyed(p, p.viewKey, nil, [2][]string{})
}

// keyedView returns the view that answers plan p for a task of group g
// asking for ports, when one is kept, or when building one costs less than
// moving the instances the group and the ports occupy out of the shared
// view's trees: when they are more than an eighth of the cluster. Otherwise
// it returns nil.
func (s *Snapshot) keyedView(p *Plan, g *group, r *request) *view {
	sensitive := p.distinct || p.spreadInst
	if !p.fast || p.random || !sensitive && len(r.ports[tcp])+len(r.ports[udp]) == 0 {
		return nil
	}
	var key strings.Builder
	key.WriteString(p.viewKey)
	if sensitive {
		key.WriteString("\x03g:" + g.name)
	} else {
		g = nil
	}
	for proto, ports := range r.ports {
		key.WriteString("\x03p" + string(rune('0'+proto)) + ":" + strings.Join(ports, ","))
	}
	if v, ok := s.views[key.String()]; ok {
		s.tick++
		v.used = s.tick
		return v
	}
	occupied := 0
	if g != nil {
		occupied = len(g.per)
	}
	for proto, ports := range r.ports {
		for _, port := range ports {
			occupied += len(s.portHolders(proto, port))
		}
	}
	if occupied*keyedShare <= len(s.byID) {
		return nil
	}
	return s.viewKeyed(p, key.String(), g, r.ports)
}

func (s *Snapshot) viewKeyed(p *Plan, key string, g *group, ports [2][]string) *view {
	s.tick++
	if v, ok := s.views[key]; ok {
		v.used = s.tick
		return v
	}
	if len(s.viewList) >= maxViews {
		k := 0
		for j, v := range s.viewList {
			if v.used < s.viewList[k].used {
				k = j
			}
		}
		delete(s.views, s.viewList[k].key)
		s.viewList = slices.Delete(s.viewList, k, k+1)
	}
	v := &view{key: key, queries: p.filters(), dynamic: p.dynamic, generic: !p.fast,
		binpack: p.binpack, group: g, ports: ports,
		leafByVals: map[[MaxStrategies]int32]int32{}, used: s.tick}
	for _, a := range p.spread {
		v.spread = append(v.spread, s.attrID(a))
	}
	v.grow(len(s.insts))
	for i := range s.insts {
		v.refresh(s, int32(i))
	}
	s.views[v.key] = v
	s.viewList = append(s.viewList, v)
	return v
}

func (v *view) grow(n int) {
	for len(v.loc) < n {
		v.loc = append(v.loc, locAbsent)
		v.leafOf = append(v.leafOf, -1)
	}
	if !v.generic {
		v.f.grow(n)
	}
}

// refresh decides again whether instance i belongs to the view and puts it
// where it belongs.
func (v *view) refresh(s *Snapshot, i int32) {
	v.unlink(i)
	in := &s.insts[i]
	member := in.live && in.eligible
	for _, q := range v.queries {
		if !member {
			break
		}
		member = q.Root.eval(instTarget{s: s, i: in})
	}
	if !member {
		v.loc[i], v.leafOf[i] = locAbsent, -1
		return
	}
	if v.leafOf[i] < 0 {
		var vals [MaxStrategies]int32
		for j, a := range v.spread {
			vals[j] = in.value(a)
		}
		l, ok := v.leafByVals[vals]
		if !ok {
			l = int32(len(v.leaves))
			v.leaves = append(v.leaves, leaf{vals: vals, base: nilNode, temp: nilNode})
			v.leafByVals[vals] = l
		}
		v.leafOf[i] = l
	}
	v.link(s, i)
}

// drop takes instance i out of the view.
func (v *view) drop(i int32) {
	if int(i) >= len(v.loc) {
		return
	}
	v.unlink(i)
	v.loc[i], v.leafOf[i] = locAbsent, -1
}

// unlink takes member i out of its tree, before its key changes.
func (v *view) unlink(i int32) {
	if v.generic {
		if v.loc[i] != locAbsent {
			v.loc[i] = locDetached
		}
		return
	}
	switch v.loc[i] {
	case locBase:
		lf := &v.leaves[v.leafOf[i]]
		lf.base = v.f.remove(lf.base, i)
	case locTemp:
		lf := &v.leaves[v.leafOf[i]]
		lf.temp = v.f.remove(lf.temp, i)
	case locOut:
	default:
		return
	}
	v.loc[i] = locDetached
}

// link puts member i, out of the trees, where it belongs now.
func (v *view) link(s *Snapshot, i int32) {
	if v.generic {
		v.loc[i] = locBase
		return
	}
	st := locBase
	if v.call != nil {
		st = v.call.classify(s, i)
		if st != locBase {
			v.call.moved = append(v.call.moved, i)
		}
	}
	v.loc[i] = st
	if st == locOut {
		return
	}
	in := &s.insts[i]
	n := &v.f.n[i]
	n.k = [3]int64{}
	switch {
	case st == locTemp:
		n.k[0] = int64(v.call.g.per[i])
	case v.group != nil:
		n.k[0] = int64(v.group.per[i])
	}
	if takenAny(in, v.ports) {
		n.k[0] += portPenalty
	}
	for j, r := range v.binpack {
		n.k[1+j] = in.amount(r)
	}
	n.mem, n.cpu, n.l, n.r = in.mem, in.cpu, nilNode, nilNode
	lf := &v.leaves[v.leafOf[i]]
	if st == locBase {
		lf.base = v.f.insert(lf.base, i)
	} else {
		lf.temp = v.f.insert(lf.temp, i)
	}
}

func (in *inst) amount(r resource) int64 {
	if r == resCPU {
		return in.cpu
	}
	return in.mem
}

func (c *call) classify(s *Snapshot, i int32) uint8 {
	n := c.g.per[i]
	if c.distinct && n > 0 {
		return locOut
	}
	if takenAny(&s.insts[i], c.ports) {
		return locOut
	}
	if c.spreadInst && n > 0 {
		return locTemp
	}
	return locBase
}

// begin starts a Place call: members that run tasks of the group (with
// distinctInstance, or spread on instanceId) or hold a port the task asks
// for leave the base trees. It costs O(m log n) for the m instances the
// group or the ports occupy, not O(n).
func (v *view) begin(s *Snapshot, c *call) {
	v.call = c
	move := func(i int32) {
		if v.loc[i] == locBase {
			v.unlink(i)
			v.link(s, i)
		}
	}
	if c.distinct || c.spreadInst {
		for i := range c.g.per {
			move(i)
		}
	}
	for proto, ports := range c.ports {
		for _, p := range ports {
			for i := range s.portHolders(proto, p) {
				move(i)
			}
		}
	}
}

// finish ends the Place call and puts every member back in its base tree.
func (v *view) finish(s *Snapshot) {
	c := v.call
	v.call = nil
	for _, i := range c.moved {
		if st := v.loc[i]; st == locTemp || st == locOut {
			v.unlink(i)
			v.link(s, i)
		}
	}
}
