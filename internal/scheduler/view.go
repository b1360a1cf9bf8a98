package scheduler

// A view indexes the candidates of one kind of plan: the ACTIVE instances
// with a connected agent that satisfy its memberOf constraints, split into
// leaves by their values of the attributes the plan spreads on, each leaf a
// tree ordered by the plan's binpack fields. Plans with the same memberOf
// expressions, spread attributes and binpack fields share a view. A
// snapshot keeps the views of the plans it places with and keeps them up to
// date as instances change.
type view struct {
	key     string
	queries []*Query
	dynamic bool // membership depends on task groups
	generic bool // no trees: the plan is answered by a scan
	spread  []int32
	binpack []resource

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

// view returns the view that answers plan p, building it on first use.
func (s *Snapshot) view(p *Plan) *view {
	s.tick++
	if v, ok := s.views[p.viewKey]; ok {
		v.used = s.tick
		return v
	}
	if len(s.views) >= maxViews {
		var oldest *view
		for _, v := range s.views {
			if oldest == nil || v.used < oldest.used {
				oldest = v
			}
		}
		delete(s.views, oldest.key)
	}
	v := &view{key: p.viewKey, queries: p.queries, dynamic: p.dynamic, generic: !p.fast,
		binpack: p.binpack, leafByVals: map[[MaxStrategies]int32]int32{}, used: s.tick}
	for _, a := range p.spread {
		v.spread = append(v.spread, s.attrID(a))
	}
	v.grow(len(s.insts))
	for i := range s.insts {
		v.refresh(s, int32(i))
	}
	s.views[v.key] = v
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
	if st == locTemp {
		n.k[0] = int64(v.call.g.per[i])
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
	in := &s.insts[i]
	for proto, ports := range c.ports {
		for _, p := range ports {
			if hasPort(in.ports[proto], p) {
				return locOut
			}
		}
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
