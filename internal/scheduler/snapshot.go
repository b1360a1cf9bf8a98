package scheduler

import (
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/flotilla/flotilla"
)

// Snapshot is the scheduler's view of one cluster: its container instances'
// remaining resources, attributes and status, and the task groups of the
// tasks on each instance. Place reserves resources on it as it places
// tasks, so that placing many tasks, in one call or in many, accounts for
// the ones placed before.
//
// A Snapshot keeps indexes of the candidates of the plans it has placed
// with and updates them as instances change, so that a placement costs
// O(log n) in the number of instances n, not O(n). It is not safe for
// concurrent use.
type Snapshot struct {
	insts []inst // by ordinal; the ordinal breaks ties between instances
	byID  map[string]int32

	attrIDs  map[string]int32 // attribute name -> id
	attrVals []valueTable     // by attribute id

	groupIDs map[string]int32
	groups   []*group

	views    map[string]*view
	viewList []*view // the same views, to visit in a fixed order
	tick     uint64

	// ports[proto][port] are the instances where the port is taken, built
	// the first time a task asks for that port.
	ports [2]map[string]map[int32]struct{}

	rng *rand.Rand

	rank  []ranked // scratch of pickFast
	class []int32
}

// inst is a snapshot's copy of a container instance.
type inst struct {
	id, arn  string
	live     bool
	status   string
	agent    bool
	eligible bool // ACTIVE with its agent connected

	agentVersion string
	ec2          string
	registered   time.Time
	running      int
	attrs        []flotilla.Attribute
	attrIDs      []attrValue // sorted by name

	cpu, mem int64
	ports    [2][]string // TCP and UDP ports taken, sorted

	groups []groupCount // task groups of its tasks
}

type attrValue struct{ name, value int32 }

type groupCount struct{ id, n int32 }

// valueTable interns one attribute's values; id 0 means the instance lacks
// the attribute.
type valueTable struct {
	ids   map[string]int32
	names []string
}

// group is one task group's footprint: how many of its tasks each instance
// runs and, for each attribute it is spread on, how many run on instances
// with each value.
type group struct {
	name   string
	per    map[int32]int32
	byAttr []attrCounts
}

// attrCounts are a group's tasks per value id of one attribute.
type attrCounts struct {
	attr   int32
	counts []int32
}

const (
	tcp = 0
	udp = 1
)

// NewSnapshot returns a snapshot of instances. groups maps an instance ID to
// the task groups of its tasks whose desired status is not STOPPED, one
// entry per task (GroupsByInstance builds it from tasks). Ties between
// otherwise equal instances go to the one with the lowest ID.
func NewSnapshot(instances []flotilla.ContainerInstance, groups map[string][]string) *Snapshot {
	s := &Snapshot{
		byID:     map[string]int32{},
		attrIDs:  map[string]int32{},
		groupIDs: map[string]int32{},
		views:    map[string]*view{},
		rng:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
	order := make([]int, len(instances))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return instances[order[a]].ID < instances[order[b]].ID })
	for _, i := range order {
		s.Update(instances[i], groups[instances[i].ID])
	}
	return s
}

// GroupsByInstance returns, for NewSnapshot, the groups of the tasks that
// hold resources on an instance: those whose desired status is not STOPPED.
func GroupsByInstance(tasks []flotilla.Task) map[string][]string {
	m := map[string][]string{}
	for _, t := range tasks {
		if t.InstanceID != "" && t.DesiredStatus != flotilla.TaskStopped {
			m[t.InstanceID] = append(m[t.InstanceID], t.Group)
		}
	}
	return m
}

// Seed makes the random strategy's choices repeatable.
func (s *Snapshot) Seed(seed uint64) { s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// Len returns the number of instances in the snapshot.
func (s *Snapshot) Len() int { return len(s.byID) }

// Remaining returns the CPU units and MiB of memory left on an instance.
func (s *Snapshot) Remaining(instanceID string) (cpu, memoryMiB int, ok bool) {
	i, ok := s.byID[instanceID]
	if !ok {
		return 0, 0, false
	}
	return int(s.insts[i].cpu), int(s.insts[i].mem), true
}

// Update adds an instance, or replaces what the snapshot knows of it (status,
// agent, attributes, remaining resources) together with the groups of its
// tasks, as NewSnapshot takes them. Call it when the store says an instance
// changed.
func (s *Snapshot) Update(ci flotilla.ContainerInstance, groups []string) {
	i, ok := s.byID[ci.ID]
	if ok {
		s.unindex(i)
	} else {
		i = int32(len(s.insts))
		s.insts = append(s.insts, inst{})
		s.byID[ci.ID] = i
	}
	in := &s.insts[i]
	*in = inst{
		id: ci.ID, arn: ci.ARN, live: true, status: ci.Status, agent: ci.AgentConnected,
		eligible:     ci.Status == flotilla.InstanceActive && ci.AgentConnected,
		agentVersion: ci.VersionInfo.AgentVersion, ec2: ci.EC2InstanceID,
		registered: ci.RegisteredAt, running: int(ci.RunningTasksCount),
		attrs: slices.Clone(ci.Attributes),
	}
	for _, r := range ci.RemainingResources {
		switch r.Name {
		case "CPU":
			in.cpu = int64(r.IntegerValue)
		case "MEMORY":
			in.mem = int64(r.IntegerValue)
		case "PORTS":
			in.ports[tcp] = sortedCopy(r.StringSetValue)
		case "PORTS_UDP":
			in.ports[udp] = sortedCopy(r.StringSetValue)
		}
	}
	for _, a := range in.attrs {
		v := ""
		if a.Value != nil {
			v = *a.Value
		}
		in.attrIDs = append(in.attrIDs, attrValue{name: s.attrID(a.Name), value: s.valueID(s.attrID(a.Name), v)})
	}
	slices.SortFunc(in.attrIDs, func(a, b attrValue) int { return int(a.name - b.name) })
	for _, g := range groups {
		s.addTask(i, s.groupID(g), 1)
	}
	s.index(i)
}

// Remove forgets an instance (deregistered).
func (s *Snapshot) Remove(instanceID string) {
	i, ok := s.byID[instanceID]
	if !ok {
		return
	}
	s.unindex(i)
	delete(s.byID, instanceID)
	s.insts[i] = inst{}
}

// Release gives back what a task of group held on an instance: its
// reservation and its place in the group. Call it when a task stops, or to
// undo a placement that could not be committed.
func (s *Snapshot) Release(instanceID, group string, r flotilla.Reservation) {
	i, ok := s.byID[instanceID]
	if !ok {
		return
	}
	s.unlinkAll(i)
	in := &s.insts[i]
	in.cpu += int64(r.CPU)
	in.mem += int64(r.MemoryMiB)
	s.freePorts(i, tcp, r.Ports)
	s.freePorts(i, udp, r.UDPPorts)
	changed := false
	if g, ok := s.groupIDs[group]; ok && s.groups[g].per[i] > 0 {
		changed = s.addTask(i, g, -1)
	}
	s.relinkAll(i, changed)
}

// reserve takes a task of group g with reservation r on instance i.
func (s *Snapshot) reserve(i, g int32, r *request) {
	s.unlinkAll(i)
	in := &s.insts[i]
	in.cpu -= r.cpu
	in.mem -= r.mem
	s.takePorts(i, tcp, r.ports[tcp])
	s.takePorts(i, udp, r.ports[udp])
	changed := s.addTask(i, g, 1)
	s.relinkAll(i, changed)
}

// index puts instance i in every view it belongs to.
func (s *Snapshot) index(i int32) {
	for _, v := range s.viewList {
		v.grow(len(s.insts))
		v.refresh(s, i)
	}
	for proto := range s.ports {
		for p, holders := range s.ports[proto] {
			if hasPort(s.insts[i].ports[proto], p) {
				holders[i] = struct{}{}
			}
		}
	}
}

// unindex takes instance i out of every view, group and port index.
func (s *Snapshot) unindex(i int32) {
	for _, v := range s.viewList {
		v.drop(i)
	}
	in := &s.insts[i]
	for _, gc := range slices.Clone(in.groups) {
		s.addTask(i, gc.id, -gc.n)
	}
	for proto := range s.ports {
		for _, holders := range s.ports[proto] {
			delete(holders, i)
		}
	}
}

// unlinkAll takes instance i out of the trees of every view before its
// resources or groups change.
func (s *Snapshot) unlinkAll(i int32) {
	for _, v := range s.viewList {
		v.unlink(i)
	}
}

// relinkAll puts instance i back after a change; groupsChanged says whether
// the set of its groups changed, which memberOf on task:group looks at.
func (s *Snapshot) relinkAll(i int32, groupsChanged bool) {
	for _, v := range s.viewList {
		if v.dynamic && groupsChanged {
			v.refresh(s, i)
		} else if v.loc[i] != locAbsent {
			v.link(s, i)
		}
	}
}

// addTask adds n (possibly negative) tasks of group g to instance i and
// reports whether the instance's set of groups changed.
func (s *Snapshot) addTask(i, g int32, n int32) bool {
	gr := s.groups[g]
	before := gr.per[i]
	after := before + n
	if after <= 0 {
		delete(gr.per, i)
		after = 0
	} else {
		gr.per[i] = after
	}
	for k := range gr.byAttr {
		a := gr.byAttr[k].attr
		s.spreadCounts(gr, a)[s.insts[i].value(a)] += after - before
	}
	in := &s.insts[i]
	k := slices.IndexFunc(in.groups, func(gc groupCount) bool { return gc.id == g })
	switch {
	case k < 0 && after > 0:
		in.groups = append(in.groups, groupCount{id: g, n: after})
	case k >= 0 && after > 0:
		in.groups[k].n = after
	case k >= 0:
		in.groups = slices.Delete(in.groups, k, k+1)
	}
	return (before == 0) != (after == 0)
}

func (s *Snapshot) groupID(name string) int32 {
	if g, ok := s.groupIDs[name]; ok {
		return g
	}
	g := int32(len(s.groups))
	s.groupIDs[name] = g
	s.groups = append(s.groups, &group{name: name, per: map[int32]int32{}})
	return g
}

func (s *Snapshot) attrID(name string) int32 {
	if a, ok := s.attrIDs[name]; ok {
		return a
	}
	a := int32(len(s.attrVals))
	s.attrIDs[name] = a
	s.attrVals = append(s.attrVals, valueTable{ids: map[string]int32{}, names: []string{""}})
	return a
}

func (s *Snapshot) valueID(attr int32, v string) int32 {
	t := &s.attrVals[attr]
	if id, ok := t.ids[v]; ok {
		return id
	}
	id := int32(len(t.names))
	t.ids[v] = id
	t.names = append(t.names, v)
	return id
}

// value returns the id of the instance's value of attribute a, 0 when it
// lacks it.
func (in *inst) value(a int32) int32 {
	k, ok := slices.BinarySearchFunc(in.attrIDs, a, func(av attrValue, a int32) int { return int(av.name - a) })
	if !ok {
		return 0
	}
	return in.attrIDs[k].value
}

// spreadCounts returns how many tasks of group g run on instances with each
// value of attribute a, indexed by value id.
func (s *Snapshot) spreadCounts(g *group, a int32) []int32 {
	k := slices.IndexFunc(g.byAttr, func(ac attrCounts) bool { return ac.attr == a })
	if k < 0 {
		counts := make([]int32, len(s.attrVals[a].names))
		for i, n := range g.per {
			counts[s.insts[i].value(a)] += n
		}
		g.byAttr = append(g.byAttr, attrCounts{attr: a, counts: counts})
		k = len(g.byAttr) - 1
	}
	ac := &g.byAttr[k]
	if n := len(s.attrVals[a].names); len(ac.counts) < n {
		ac.counts = append(ac.counts, make([]int32, n-len(ac.counts))...)
	}
	return ac.counts
}

// portHolders returns the instances where port is taken.
func (s *Snapshot) portHolders(proto int, port string) map[int32]struct{} {
	if s.ports[proto] == nil {
		s.ports[proto] = map[string]map[int32]struct{}{}
	}
	h, ok := s.ports[proto][port]
	if !ok {
		h = map[int32]struct{}{}
		for i := range s.insts {
			if s.insts[i].live && hasPort(s.insts[i].ports[proto], port) {
				h[int32(i)] = struct{}{}
			}
		}
		s.ports[proto][port] = h
	}
	return h
}

func (s *Snapshot) takePorts(i int32, proto int, ports []string) {
	in := &s.insts[i]
	for _, p := range ports {
		k, _ := slices.BinarySearch(in.ports[proto], p)
		in.ports[proto] = slices.Insert(in.ports[proto], k, p)
		if h, ok := s.ports[proto][p]; ok {
			h[i] = struct{}{}
		}
	}
}

func (s *Snapshot) freePorts(i int32, proto int, ports []string) {
	in := &s.insts[i]
	for _, p := range ports {
		if k, ok := slices.BinarySearch(in.ports[proto], p); ok {
			in.ports[proto] = slices.Delete(in.ports[proto], k, k+1)
		}
		if h, ok := s.ports[proto][p]; ok && !hasPort(in.ports[proto], p) {
			delete(h, i)
		}
	}
}

func hasPort(sorted []string, p string) bool {
	_, ok := slices.BinarySearch(sorted, p)
	return ok
}

func sortedCopy(ss []string) []string {
	c := slices.Clone(ss)
	slices.Sort(c)
	return c
}

// instTarget evaluates queries against a snapshot's instance.
type instTarget struct {
	s *Snapshot
	i *inst
}

func (t instTarget) attribute(name string) (string, bool) {
	for _, a := range t.i.attrs {
		if a.Name == name {
			if a.Value == nil {
				return "", true
			}
			return *a.Value, true
		}
	}
	return "", false
}
func (t instTarget) agentConnected() bool    { return t.i.agent }
func (t instTarget) agentVersion() string    { return t.i.agentVersion }
func (t instTarget) ec2InstanceID() string   { return t.i.ec2 }
func (t instTarget) registeredAt() time.Time { return t.i.registered }
func (t instTarget) runningTasksCount() int  { return t.i.running }
func (t instTarget) anyGroup(f func(string) bool) bool {
	for _, gc := range t.i.groups {
		if f(t.s.groups[gc.id].name) {
			return true
		}
	}
	return false
}
