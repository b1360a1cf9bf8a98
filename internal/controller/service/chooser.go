package service

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"math"
	"slices"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
)

// rule is one placement strategy read backwards: which task to stop first
// so that what stays is placed as the strategy wants.
type rule struct {
	kind ruleKind
	attr string // for ruleSpreadAttr
}

type ruleKind int

const (
	ruleSpreadAttr     ruleKind = iota + 1 // stop from the attribute value with the most of the service's tasks
	ruleSpreadInstance                     // stop from the instance with the most of the service's tasks
	ruleBinpackCPU                         // stop from the instance with the most CPU left
	ruleBinpackMemory                      // stop from the instance with the most memory left
	ruleRandom                             // stop in an order that looks random but is a function of the input
)

// maxRules bounds the rules of a chooser: the strategies and the implicit
// spread on instanceId.
const maxRules = scheduler.MaxStrategies + 1

// chooser orders tasks for stopping: tasks that are not healthy first,
// then by the placement strategies read backwards (spread: from where the
// service has the most tasks; binpack: from the instance that has the most
// left; random: pseudo-random), then, when no strategy is random, from the
// instance with the most of the service's tasks, then the newest task
// first, then the highest ID.
//
// Every rule but random looks at the task's instance only, so the chooser
// keeps its counts per instance ("slot") and per attribute value, indexed
// by small integers.
type chooser struct {
	rules  []rule
	seed   uint64
	slots  []slot
	slotOf map[string]int32   // instance ID → slot
	values []map[string]int32 // per rule, attribute value → value index
	perVal [maxRules][]int    // per rule, the service's live tasks per value index
	random int                // index of the random rule, or -1
	inSlot map[*task]int32    // the slot of each live task counted
	hashes map[*task]int64    // the random rule's key of each task
}

// slot is an instance as the chooser sees it.
type slot struct {
	ci         *flotilla.ContainerInstance // nil for tasks on no known instance
	val        [maxRules]int32             // per spread-attribute rule, the value index
	tasks      int                         // the service's live tasks on it
	cpu, mem   int64                       // resources left, with the stops chosen so far
	candidates []*task                     // of the current pickStops, best first
	next       int                         // the first of candidates not yet stopped
}

// newChooser returns a chooser over the live tasks this plan does not stop
// (yet), reading the given strategies.
func (r *run) newChooser(strategies []scheduler.Strategy) *chooser {
	c := &chooser{slotOf: map[string]int32{}, inSlot: map[*task]int32{}, hashes: map[*task]int64{},
		seed: uint64(r.now.UnixNano()), random: -1}
	for _, s := range strategies {
		if c.random >= 0 || len(c.rules) >= maxRules-1 {
			break
		}
		f := strings.ToLower(s.Field)
		switch s.Type {
		case scheduler.StrategySpread:
			switch {
			case f == strings.ToLower(scheduler.FieldInstanceID) || f == scheduler.FieldHost:
				c.rules = append(c.rules, rule{kind: ruleSpreadInstance})
			case strings.HasPrefix(f, scheduler.FieldAttribute):
				c.rules = append(c.rules, rule{kind: ruleSpreadAttr, attr: s.Field[len(scheduler.FieldAttribute):]})
			}
		case scheduler.StrategyBinpack:
			switch f {
			case scheduler.FieldCPU:
				c.rules = append(c.rules, rule{kind: ruleBinpackCPU})
			case scheduler.FieldMemory:
				c.rules = append(c.rules, rule{kind: ruleBinpackMemory})
			}
		case scheduler.StrategyRandom:
			c.random = len(c.rules)
			c.rules = append(c.rules, rule{kind: ruleRandom})
		}
	}
	if c.random < 0 {
		c.rules = append(c.rules, rule{kind: ruleSpreadInstance})
	}
	c.values = make([]map[string]int32, len(c.rules))
	for i, ru := range c.rules {
		if ru.kind == ruleSpreadAttr {
			c.values[i] = map[string]int32{}
		}
	}
	for _, t := range r.liveTasks() {
		s := c.slot(t)
		c.inSlot[t] = s
		c.slots[s].tasks++
		for i := range c.rules {
			if c.rules[i].kind == ruleSpreadAttr {
				c.perVal[i][c.slots[s].val[i]]++
			}
		}
	}
	return c
}

// slot returns the slot of a task's instance, adding it when new.
func (c *chooser) slot(t *task) int32 {
	if s, ok := c.slotOf[t.InstanceID]; ok {
		return s
	}
	s := int32(len(c.slots))
	c.slotOf[t.InstanceID] = s
	sl := slot{ci: t.inst, cpu: math.MaxInt64, mem: math.MaxInt64}
	if t.inst != nil {
		sl.cpu, sl.mem = remaining(t.inst, "CPU"), remaining(t.inst, "MEMORY")
	}
	for i, ru := range c.rules {
		if ru.kind != ruleSpreadAttr {
			continue
		}
		v := attrValue(t.inst, ru.attr)
		id, ok := c.values[i][v]
		if !ok {
			id = int32(len(c.perVal[i]))
			c.values[i][v] = id
			c.perVal[i] = append(c.perVal[i], 0)
		}
		sl.val[i] = id
	}
	c.slots = append(c.slots, sl)
	return s
}

// attrValue returns a key for an instance's value of an attribute,
// distinguishing a missing attribute and a missing instance.
func attrValue(ci *flotilla.ContainerInstance, name string) string {
	if ci == nil {
		return "\x00none"
	}
	for _, a := range ci.Attributes {
		if a.Name == name {
			if a.Value == nil {
				return "="
			}
			return "=" + *a.Value
		}
	}
	return "\x00missing"
}

func remaining(ci *flotilla.ContainerInstance, name string) int64 {
	for _, r := range ci.RemainingResources {
		if r.Name == name {
			return int64(r.IntegerValue)
		}
	}
	return 0
}

// remove takes a task the plan stops out of the counts.
func (c *chooser) remove(t *task) {
	s, ok := c.inSlot[t]
	if !ok {
		return
	}
	delete(c.inSlot, t)
	sl := &c.slots[s]
	sl.tasks--
	if sl.ci != nil {
		sl.cpu += int64(t.Reservation.CPU)
		sl.mem += int64(t.Reservation.MemoryMiB)
	}
	for i := range c.rules {
		if c.rules[i].kind == ruleSpreadAttr {
			c.perVal[i][sl.val[i]]--
		}
	}
}

// hash is the random rule's key of a task.
func (c *chooser) hash(t *task) int64 {
	if h, ok := c.hashes[t]; ok {
		return h
	}
	f := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], c.seed)
	f.Write(b[:])
	f.Write([]byte(t.ID))
	h := int64(f.Sum64() >> 1)
	c.hashes[t] = h
	return h
}

// within orders the tasks of one instance, best to stop first: all rules
// but random are equal there.
func (c *chooser) within(a, b *task) int {
	if ah, bh := a.healthy(), b.healthy(); ah != bh {
		if ah {
			return 1
		}
		return -1
	}
	if c.random >= 0 {
		if x := cmp.Compare(c.hash(b), c.hash(a)); x != 0 {
			return x
		}
	}
	if x := b.CreatedAt.Compare(a.CreatedAt); x != 0 {
		return x
	}
	return strings.Compare(b.ID, a.ID)
}

// ruleKey is an instance's key for rule i: the higher stops first.
func (c *chooser) ruleKey(sl *slot, i int) int64 {
	switch c.rules[i].kind {
	case ruleSpreadAttr:
		return int64(c.perVal[i][sl.val[i]])
	case ruleSpreadInstance:
		return int64(sl.tasks)
	case ruleBinpackCPU:
		return sl.cpu
	case ruleBinpackMemory:
		return sl.mem
	}
	return 0
}

// before reports whether the first candidate of slot a stops before the
// first candidate of slot b.
func (c *chooser) before(a, b *slot) bool {
	ta, tb := a.candidates[a.next], b.candidates[b.next]
	if ah, bh := ta.healthy(), tb.healthy(); ah != bh {
		return !ah
	}
	for i := range c.rules {
		if i == c.random {
			break
		}
		if ka, kb := c.ruleKey(a, i), c.ruleKey(b, i); ka != kb {
			return ka > kb
		}
	}
	return c.within(ta, tb) < 0
}

// pickStops stops up to n of the candidates, the ones the chooser puts
// first (not healthy ones before healthy ones), spending one of *allowed
// for each one that serves (run.serving) and stopping short when none is
// left.
//
// The candidates are grouped by instance and sorted there once; each stop
// then compares the instances' first candidates: O(c log c + stops ×
// instances) for c candidates.
func (r *run) pickStops(c *chooser, cands []*task, n int, allowed *int, reason func(*task) string) {
	if n <= 0 {
		return
	}
	var used []int32
	for _, t := range cands {
		if t.stopped {
			continue
		}
		s := c.slot(t)
		if len(c.slots[s].candidates) == 0 {
			used = append(used, s)
		}
		c.slots[s].candidates = append(c.slots[s].candidates, t)
	}
	defer func() {
		for _, s := range used {
			c.slots[s].candidates, c.slots[s].next = nil, 0
		}
	}()
	for _, s := range used {
		slices.SortFunc(c.slots[s].candidates, c.within)
	}
	for ; n > 0; n-- {
		var best *slot
		for _, s := range used {
			sl := &c.slots[s]
			if sl.next < len(sl.candidates) && (best == nil || c.before(sl, best)) {
				best = sl
			}
		}
		if best == nil {
			return
		}
		t := best.candidates[best.next]
		if r.serving(t) {
			if *allowed <= 0 {
				return
			}
			*allowed--
		}
		best.next++
		r.stop(t, reason(t), false)
		c.remove(t)
	}
}
