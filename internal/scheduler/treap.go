package scheduler

// forest holds the nodes of a view's trees: treaps ordered by (k, ordinal),
// one node per instance (the node's index is the instance's ordinal, so
// linking and unlinking never allocate). Each node carries the instance's
// remaining memory and CPU and the subtree's maxima of both, so that a search
// skips whole subtrees where the task cannot fit, and the subtree size, for
// picking at random.
type forest struct {
	n []tnode
}

type tnode struct {
	k              [3]int64 // sort key: group tasks (spread instanceId), binpack fields
	mem, cpu       int64
	maxMem, maxCPU int64
	prio           uint32
	size           int32
	l, r           int32
}

const nilNode = -1

// grow makes room for ordinals below n.
func (f *forest) grow(n int) {
	for len(f.n) < n {
		i := len(f.n)
		f.n = append(f.n, tnode{prio: prio(uint32(i)), l: nilNode, r: nilNode})
	}
}

// prio is a fixed pseudo-random heap priority per ordinal (a 32-bit mix),
// so trees have the expected O(log n) depth of a treap and stay
// deterministic.
func prio(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

func (f *forest) less(a, b int32) bool {
	ka, kb := &f.n[a].k, &f.n[b].k
	for j := range ka {
		if ka[j] != kb[j] {
			return ka[j] < kb[j]
		}
	}
	return a < b
}

func (f *forest) pull(x int32) {
	t := &f.n[x]
	t.maxMem, t.maxCPU, t.size = t.mem, t.cpu, 1
	if t.l != nilNode {
		c := &f.n[t.l]
		t.maxMem, t.maxCPU, t.size = max(t.maxMem, c.maxMem), max(t.maxCPU, c.maxCPU), t.size+c.size
	}
	if t.r != nilNode {
		c := &f.n[t.r]
		t.maxMem, t.maxCPU, t.size = max(t.maxMem, c.maxMem), max(t.maxCPU, c.maxCPU), t.size+c.size
	}
}

// split divides tree t into the nodes before x and the nodes from x on.
func (f *forest) split(t, x int32) (int32, int32) {
	if t == nilNode {
		return nilNode, nilNode
	}
	if f.less(t, x) {
		l, r := f.split(f.n[t].r, x)
		f.n[t].r = l
		f.pull(t)
		return t, r
	}
	l, r := f.split(f.n[t].l, x)
	f.n[t].l = r
	f.pull(t)
	return l, t
}

// insert adds node x (its key and resources set) to tree t and returns the
// new root.
func (f *forest) insert(t, x int32) int32 {
	if t == nilNode || f.n[x].prio > f.n[t].prio {
		l, r := f.split(t, x)
		f.n[x].l, f.n[x].r = l, r
		f.pull(x)
		return x
	}
	if f.less(x, t) {
		f.n[t].l = f.insert(f.n[t].l, x)
	} else {
		f.n[t].r = f.insert(f.n[t].r, x)
	}
	f.pull(t)
	return t
}

// remove takes node x, which must be in tree t, out of it and returns the
// new root. x's key must be the one it was inserted with.
func (f *forest) remove(t, x int32) int32 {
	if t == x {
		return f.merge(f.n[t].l, f.n[t].r)
	}
	if f.less(x, t) {
		f.n[t].l = f.remove(f.n[t].l, x)
	} else {
		f.n[t].r = f.remove(f.n[t].r, x)
	}
	f.pull(t)
	return t
}

func (f *forest) merge(a, b int32) int32 {
	switch {
	case a == nilNode:
		return b
	case b == nilNode:
		return a
	case f.n[a].prio > f.n[b].prio:
		f.n[a].r = f.merge(f.n[a].r, b)
		f.pull(a)
		return a
	}
	f.n[b].l = f.merge(a, f.n[b].l)
	f.pull(b)
	return b
}

// first returns the first node of tree t in key order with at least mem
// memory and cpu CPU left, or nilNode.
func (f *forest) first(t int32, mem, cpu int64) int32 {
	for t != nilNode {
		n := &f.n[t]
		if n.maxMem < mem || n.maxCPU < cpu {
			return nilNode
		}
		if n.l != nilNode {
			if x := f.first(n.l, mem, cpu); x != nilNode {
				return x
			}
		}
		if n.mem >= mem && n.cpu >= cpu {
			return t
		}
		t = n.r
	}
	return nilNode
}

// kth returns the k-th node (from 0) of tree t in key order.
func (f *forest) kth(t int32, k int32) int32 {
	for t != nilNode {
		ls := int32(0)
		if l := f.n[t].l; l != nilNode {
			ls = f.n[l].size
		}
		switch {
		case k < ls:
			t = f.n[t].l
		case k == ls:
			return t
		default:
			k -= ls + 1
			t = f.n[t].r
		}
	}
	return nilNode
}

// collect appends the nodes of tree t with at least mem memory and cpu CPU
// left.
func (f *forest) collect(t int32, mem, cpu int64, out []int32) []int32 {
	if t == nilNode || f.n[t].maxMem < mem || f.n[t].maxCPU < cpu {
		return out
	}
	out = f.collect(f.n[t].l, mem, cpu, out)
	if f.n[t].mem >= mem && f.n[t].cpu >= cpu {
		out = append(out, t)
	}
	return f.collect(f.n[t].r, mem, cpu, out)
}

func (f *forest) size(t int32) int32 {
	if t == nilNode {
		return 0
	}
	return f.n[t].size
}
