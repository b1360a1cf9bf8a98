package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/ptr"
)

// instance returns an ACTIVE, connected instance with cpu units and mem MiB
// left, the default reserved ports, and attributes given as name=value
// pairs (az and type are shorthands for ecs.availability-zone and
// ecs.instance-type).
func instance(id string, cpu, mem int, attrs ...string) flotilla.ContainerInstance {
	ci := flotilla.ContainerInstance{
		ID: id, ARN: "arn:aws:ecs:us-east-1:123456789012:container-instance/test/" + id,
		EC2InstanceID: "i-" + id, Status: flotilla.InstanceActive, AgentConnected: true,
		VersionInfo:  flotilla.VersionInfo{AgentVersion: "1.80.0"},
		RegisteredAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		RemainingResources: []flotilla.Resource{
			{Name: "CPU", Type: "INTEGER", IntegerValue: int32(cpu)},
			{Name: "MEMORY", Type: "INTEGER", IntegerValue: int32(mem)},
			{Name: "PORTS", Type: "STRINGSET", StringSetValue: slices.Clone(flotilla.DefaultReservedPorts)},
			{Name: "PORTS_UDP", Type: "STRINGSET"},
		},
	}
	for _, a := range attrs {
		name, value, _ := strings.Cut(a, "=")
		switch name {
		case "az":
			name = "ecs.availability-zone"
		case "type":
			name = "ecs.instance-type"
		}
		ci.Attributes = append(ci.Attributes, flotilla.Attribute{Name: name, Value: ptr.To(value)})
	}
	return ci
}

func mustCompile(t testing.TB, cs []Constraint, ss []Strategy) *Plan {
	t.Helper()
	p, err := Compile(cs, ss)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func ids(ps []Placement) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.InstanceID)
	}
	return out
}

func reasons(fs []Failure) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		m[f.InstanceID] = f.Reason
	}
	return m
}

var (
	spreadAZ       = Strategy{Type: StrategySpread, Field: "attribute:ecs.availability-zone"}
	spreadInstance = Strategy{Type: StrategySpread, Field: "instanceId"}
	binpackMemory  = Strategy{Type: StrategyBinpack, Field: "memory"}
	binpackCPU     = Strategy{Type: StrategyBinpack, Field: "cpu"}
	random         = Strategy{Type: StrategyRandom}
	distinct       = Constraint{Type: ConstraintDistinctInstance}
)

func memberOf(expr string) Constraint { return Constraint{Type: ConstraintMemberOf, Expression: expr} }

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		cs   []Constraint
		ss   []Strategy
		msg  string
	}{
		{"too many constraints", slices.Repeat([]Constraint{memberOf("attribute:a exists")}, 11), nil, "Too many placement constraints: 11"},
		{"too many strategies", nil, slices.Repeat([]Strategy{random}, 6), "maximum of 5 strategy rules"},
		{"distinctInstance with expression", []Constraint{{Type: ConstraintDistinctInstance, Expression: "attribute:a exists"}}, nil, "distinctInstance expression should not be specified."},
		{"memberOf without expression", []Constraint{{Type: ConstraintMemberOf}}, nil, "requires an expression"},
		{"expression too long", []Constraint{memberOf("attribute:a == " + strings.Repeat("x", 2000))}, nil, "the maximum is 2000"},
		{"bad expression", []Constraint{memberOf("attribute:a exists"), memberOf("attribute:a ==")}, nil, "Invalid cluster query expression at position 15: placement constraint 2: expected a value"},
		{"unknown constraint", []Constraint{{Type: "sameInstance"}}, nil, "Invalid placement constraint type \"sameInstance\""},
		{"unknown strategy", nil, []Strategy{{Type: "pack"}}, "Invalid placement strategy type \"pack\""},
		{"binpack field", nil, []Strategy{{Type: StrategyBinpack, Field: "disk"}}, "Invalid field \"disk\" for placement strategy binpack"},
		{"binpack without field", nil, []Strategy{{Type: StrategyBinpack}}, "Valid fields are cpu and memory"},
		{"spread field", nil, []Strategy{{Type: StrategySpread, Field: "zone"}}, "Invalid field \"zone\" for placement strategy spread"},
		{"spread without field", nil, []Strategy{{Type: StrategySpread}}, "Valid fields are instanceId, host and attribute:<name>"},
		{"spread bad attribute", nil, []Strategy{{Type: StrategySpread, Field: "attribute:a b"}}, "attribute names have"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.cs, tt.ss)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Compile = %v, want an error containing %q", err, tt.msg)
			}
			var de *flotilla.Error
			if !errors.As(err, &de) || de.Code != flotilla.EInvalid {
				t.Errorf("error %v is not an EInvalid domain error", err)
			}
		})
	}
	// What ECS accepts.
	ok := [][]Strategy{
		{{Type: StrategyBinpack, Field: "MEMORY"}}, {{Type: StrategySpread, Field: "host"}},
		{{Type: StrategyRandom, Field: "ignored"}}, {spreadAZ, spreadInstance, binpackMemory, binpackCPU, random},
	}
	for _, ss := range ok {
		if _, err := Compile([]Constraint{distinct, memberOf("attribute:a exists")}, ss); err != nil {
			t.Errorf("Compile(%v): %v", ss, err)
		}
	}
}

func TestPlanShapes(t *testing.T) {
	tests := []struct {
		ss   []Strategy
		fast bool
		want string
	}{
		{nil, true, ""},
		{[]Strategy{spreadAZ, binpackMemory}, true, "spread(attribute:ecs.availability-zone) binpack(memory)"},
		{[]Strategy{spreadAZ, spreadInstance}, true, "spread(attribute:ecs.availability-zone) spread(instanceId)"},
		{[]Strategy{{Type: StrategySpread, Field: "host"}, binpackCPU, binpackMemory}, true, "spread(instanceId) binpack(cpu) binpack(memory)"},
		{[]Strategy{spreadAZ, random}, true, "spread(attribute:ecs.availability-zone) random"},
		{[]Strategy{random, binpackMemory}, true, "random"}, // nothing breaks ties after random
		{[]Strategy{binpackMemory, binpackMemory}, true, "binpack(memory)"},
		{[]Strategy{binpackMemory, spreadAZ}, false, "binpack(memory) spread(attribute:ecs.availability-zone)"},
		{[]Strategy{binpackMemory, random}, false, "binpack(memory) random"},
		{[]Strategy{spreadInstance, spreadAZ}, false, "spread(instanceId) spread(attribute:ecs.availability-zone)"},
	}
	for _, tt := range tests {
		p := mustCompile(t, nil, tt.ss)
		if p.fast != tt.fast || p.String() != tt.want {
			t.Errorf("%v: fast %v %q, want %v %q", tt.ss, p.fast, p.String(), tt.fast, tt.want)
		}
	}
}

func TestBinpack(t *testing.T) {
	s := NewSnapshot([]flotilla.ContainerInstance{
		instance("a", 4096, 8192), instance("b", 4096, 2048), instance("c", 1024, 4096), instance("d", 4096, 1024),
	}, nil)
	byMem := mustCompile(t, nil, []Strategy{binpackMemory})
	// Least memory left that still fits 1500 MiB: b (2048), then b is full
	// (548 left), so c (4096).
	got, _ := s.Place(byMem, Request{Group: "family:x", Reservation: flotilla.Reservation{CPU: 256, MemoryMiB: 1500}}, 3)
	if want := []string{"b", "c", "c"}; !slices.Equal(ids(got), want) {
		t.Errorf("binpack(memory) placed on %v, want %v", ids(got), want)
	}
	byCPU := mustCompile(t, nil, []Strategy{binpackCPU})
	got, _ = s.Place(byCPU, Request{Group: "family:y", Reservation: flotilla.Reservation{CPU: 200, MemoryMiB: 100}}, 1)
	if want := []string{"c"}; !slices.Equal(ids(got), want) { // c has 1024-512 = 512 CPU left
		t.Errorf("binpack(cpu) placed on %v, want %v", ids(got), want)
	}
}

func TestSpread(t *testing.T) {
	var cis []flotilla.ContainerInstance
	for i, az := range []string{"us-east-1a", "us-east-1a", "us-east-1a", "us-east-1b", "us-east-1c", "us-east-1c"} {
		cis = append(cis, instance(fmt.Sprintf("i%d", i), 10240, 10240, "az="+az))
	}
	// One task of the group already runs in us-east-1a, one of another
	// group in us-east-1b.
	s := NewSnapshot(cis, map[string][]string{"i0": {"service:web"}, "i3": {"service:db"}})
	p := mustCompile(t, nil, []Strategy{spreadAZ, spreadInstance})
	got, _ := s.Place(p, Request{Group: "service:web", Reservation: flotilla.Reservation{CPU: 10, MemoryMiB: 10}}, 8)
	// b and c first (no task of the group there); then the AZs with fewest
	// tasks of the group, and among their instances the one with fewest,
	// the lowest ID first: i1 ties with i3 and i4 at 1 per AZ but has none.
	want := []string{"i3", "i4", "i1", "i5", "i3", "i2", "i4", "i3"}
	if !slices.Equal(ids(got), want) {
		t.Errorf("spread placed on %v, want %v", ids(got), want)
	}
	perAZ := map[string]int{}
	for _, id := range append(ids(got), "i0") {
		for _, ci := range cis {
			if ci.ID == id {
				perAZ[*ci.Attributes[0].Value]++
			}
		}
	}
	if perAZ["us-east-1a"] != 3 || perAZ["us-east-1b"] != 3 || perAZ["us-east-1c"] != 3 {
		t.Errorf("tasks per AZ %v, want 3 each", perAZ)
	}
}

func TestSpreadThenBinpack(t *testing.T) {
	// The documentation's "spread across Availability Zones, then bin pack
	// on memory within each".
	s := NewSnapshot([]flotilla.ContainerInstance{
		instance("a1", 4096, 4096, "az=a"), instance("a2", 4096, 1024, "az=a"),
		instance("b1", 4096, 2048, "az=b"), instance("b2", 4096, 8192, "az=b"),
	}, nil)
	p := mustCompile(t, nil, []Strategy{spreadAZ, binpackMemory})
	got, _ := s.Place(p, Request{Group: "g", Reservation: flotilla.Reservation{MemoryMiB: 512}}, 4)
	// Both AZs tie: least memory of all, a2 (1024); then b leads: b1 (2048);
	// then a2 (512 left) and b1 (1536 left).
	if want := []string{"a2", "b1", "a2", "b1"}; !slices.Equal(ids(got), want) {
		t.Errorf("placed on %v, want %v", ids(got), want)
	}
}

func TestSpreadMissingAttribute(t *testing.T) {
	// Instances without the attribute form their own bucket.
	s := NewSnapshot([]flotilla.ContainerInstance{
		instance("a", 1024, 1024, "az=a"), instance("n", 1024, 1024),
	}, nil)
	p := mustCompile(t, nil, []Strategy{spreadAZ})
	got, _ := s.Place(p, Request{Group: "g", Reservation: flotilla.Reservation{MemoryMiB: 1}}, 4)
	if want := []string{"a", "n", "a", "n"}; !slices.Equal(ids(got), want) {
		t.Errorf("placed on %v, want %v", ids(got), want)
	}
}

func TestRandom(t *testing.T) {
	var cis []flotilla.ContainerInstance
	for i := range 10 {
		cis = append(cis, instance(fmt.Sprintf("i%d", i), 100000, 100000))
	}
	cis[3].RemainingResources[1].IntegerValue = 10 // too little memory
	s := NewSnapshot(cis, nil)
	s.Seed(1)
	p := mustCompile(t, nil, []Strategy{random})
	got, _ := s.Place(p, Request{Group: "g", Reservation: flotilla.Reservation{MemoryMiB: 100}}, 1000)
	count := map[string]int{}
	for _, id := range ids(got) {
		count[id]++
	}
	if count["i3"] != 0 || len(count) != 9 {
		t.Fatalf("random placed on %v", count)
	}
	for id, n := range count {
		if n < 50 { // 111 expected per instance
			t.Errorf("random placed only %d tasks on %s: %v", n, id, count)
		}
	}
	// The same seed makes the same choices.
	s1, s2 := NewSnapshot(cis, nil), NewSnapshot(cis, nil)
	s1.Seed(7)
	s2.Seed(7)
	a, _ := s1.Place(p, Request{Group: "g", Reservation: flotilla.Reservation{MemoryMiB: 100}}, 50)
	b, _ := s2.Place(p, Request{Group: "g", Reservation: flotilla.Reservation{MemoryMiB: 100}}, 50)
	if !slices.Equal(ids(a), ids(b)) {
		t.Error("the same seed made different choices")
	}
}

func TestRandomWhenFewFit(t *testing.T) {
	// Random must find the one instance that fits among many that do not.
	var cis []flotilla.ContainerInstance
	for i := range 500 {
		cis = append(cis, instance(fmt.Sprintf("i%03d", i), 10, 10))
	}
	cis = append(cis, instance("big", 1000, 1000))
	s := NewSnapshot(cis, nil)
	s.Seed(3)
	got, fails := s.Place(mustCompile(t, nil, []Strategy{random}), Request{Reservation: flotilla.Reservation{CPU: 100, MemoryMiB: 100}}, 11)
	if len(got) != 10 || got[0].InstanceID != "big" || len(fails) != 501 {
		t.Errorf("placed %v, %d failures", ids(got), len(fails))
	}
}

func TestDistinctInstance(t *testing.T) {
	s := NewSnapshot([]flotilla.ContainerInstance{
		instance("a", 4096, 4096), instance("b", 4096, 4096), instance("c", 4096, 4096),
	}, map[string][]string{"b": {"service:web"}})
	p := mustCompile(t, []Constraint{distinct}, []Strategy{binpackMemory})
	req := Request{Group: "service:web", Reservation: flotilla.Reservation{MemoryMiB: 100}}
	got, fails := s.Place(p, req, 3)
	if want := []string{"a", "c"}; !slices.Equal(ids(got), want) {
		t.Errorf("placed on %v, want %v", ids(got), want)
	}
	want := map[string]string{"a": ReasonDistinctInstance, "b": ReasonDistinctInstance, "c": ReasonDistinctInstance}
	if got := reasons(fails); !maps(got, want) {
		t.Errorf("failures %v, want %v", got, want)
	}
	// Another group is not constrained by web's tasks.
	if got, _ := s.Place(p, Request{Group: "service:api", Reservation: req.Reservation}, 3); len(got) != 3 {
		t.Errorf("api placed %v", ids(got))
	}
	// A stopped task frees its instance.
	s.Release("b", "service:web", flotilla.Reservation{})
	if got, _ := s.Place(p, req, 1); !slices.Equal(ids(got), []string{"b"}) {
		t.Errorf("after release placed on %v", ids(got))
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestMemberOf(t *testing.T) {
	s := NewSnapshot([]flotilla.ContainerInstance{
		instance("a", 4096, 4096, "type=t2.micro", "az=us-east-1a"),
		instance("b", 4096, 4096, "type=g2.2xlarge", "az=us-east-1a"),
		instance("c", 4096, 4096, "type=g2.2xlarge", "az=us-east-1d"),
	}, map[string][]string{"a": {"databases"}})
	tests := []struct {
		expr string
		want []string
	}{
		{"attribute:ecs.instance-type =~ t2.*", []string{"a"}},
		{"attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d", []string{"b"}},
		{"task:group == databases", []string{"a"}},
		{"not(task:group == databases)", []string{"b", "c"}},
		{"ec2InstanceId in ['i-b', 'i-c']", []string{"b", "c"}},
	}
	for _, tt := range tests {
		p := mustCompile(t, []Constraint{memberOf(tt.expr)}, []Strategy{spreadInstance})
		got, fails := s.Place(p, Request{Group: "probe:" + tt.expr, Reservation: flotilla.Reservation{MemoryMiB: 1}}, len(tt.want))
		slices.Sort(tt.want)
		placed := ids(got)
		slices.Sort(placed)
		if !slices.Equal(placed, tt.want) || fails != nil {
			t.Errorf("%s: placed on %v (%v), want %v", tt.expr, placed, fails, tt.want)
		}
	}
	// Failures name the instances the expression rules out.
	p := mustCompile(t, []Constraint{memberOf("attribute:ecs.instance-type == t2.micro")}, nil)
	_, fails := s.Place(p, Request{Group: "x", Reservation: flotilla.Reservation{MemoryMiB: 4000}}, 2)
	want := map[string]string{"a": flotilla.ReasonMemory, "b": ReasonMemberOf, "c": ReasonMemberOf}
	if got := reasons(fails); !maps(got, want) {
		t.Errorf("failures %v, want %v", got, want)
	}
}

func TestMemberOfTaskGroupChangesAsTasksArePlaced(t *testing.T) {
	cis := []flotilla.ContainerInstance{instance("a", 4096, 4096), instance("b", 4096, 4096), instance("c", 4096, 4096)}
	// Anti-affinity with its own group: one task per instance, like
	// distinctInstance.
	s := NewSnapshot(cis, nil)
	anti := mustCompile(t, []Constraint{memberOf("not(task:group == service:cache)")}, []Strategy{binpackMemory})
	got, fails := s.Place(anti, Request{Group: "service:cache", Reservation: flotilla.Reservation{MemoryMiB: 10}}, 4)
	if want := []string{"a", "b", "c"}; !slices.Equal(ids(got), want) || len(fails) != 3 || fails[0].Reason != ReasonMemberOf {
		t.Errorf("anti-affinity placed on %v, failures %v", ids(got), fails)
	}
	// Affinity: the app goes where the cache runs, and when the cache
	// stops there, no longer.
	s = NewSnapshot(cis, map[string][]string{"b": {"service:cache"}})
	aff := mustCompile(t, []Constraint{memberOf("task:group == service:cache")}, nil)
	got, _ = s.Place(aff, Request{Group: "service:app", Reservation: flotilla.Reservation{MemoryMiB: 10}}, 2)
	if want := []string{"b", "b"}; !slices.Equal(ids(got), want) {
		t.Errorf("affinity placed on %v", ids(got))
	}
	s.Release("b", "service:cache", flotilla.Reservation{})
	if got, fails := s.Place(aff, Request{Group: "service:app", Reservation: flotilla.Reservation{MemoryMiB: 10}}, 1); len(got) != 0 || len(fails) != 3 {
		t.Errorf("after the cache stopped placed on %v", ids(got))
	}
}

func TestPorts(t *testing.T) {
	s := NewSnapshot([]flotilla.ContainerInstance{instance("a", 4096, 4096), instance("b", 4096, 4096)}, nil)
	p := mustCompile(t, nil, []Strategy{binpackMemory})
	web := Request{Group: "service:web", Reservation: flotilla.Reservation{MemoryMiB: 10, Ports: []string{"80"}, UDPPorts: []string{"53"}}}
	got, fails := s.Place(p, web, 3)
	if want := []string{"a", "b"}; !slices.Equal(ids(got), want) {
		t.Errorf("placed on %v, want %v", ids(got), want)
	}
	if want := map[string]string{"a": flotilla.ReasonPorts, "b": flotilla.ReasonPorts}; !maps(reasons(fails), want) {
		t.Errorf("failures %v", fails)
	}
	// Another task wanting only UDP 53 cannot go anywhere either.
	_, fails = s.Place(p, Request{Group: "dns", Reservation: flotilla.Reservation{UDPPorts: []string{"53"}}}, 1)
	if want := map[string]string{"a": flotilla.ReasonPortsUDP, "b": flotilla.ReasonPortsUDP}; !maps(reasons(fails), want) {
		t.Errorf("failures %v", fails)
	}
	// A reserved port is taken everywhere.
	_, fails = s.Place(p, Request{Group: "ssh", Reservation: flotilla.Reservation{Ports: []string{"22"}}}, 1)
	if len(fails) != 2 || fails[0].Reason != flotilla.ReasonPorts {
		t.Errorf("failures %v", fails)
	}
	s.Release("a", "service:web", web.Reservation)
	if got, _ := s.Place(p, web, 1); !slices.Equal(ids(got), []string{"a"}) {
		t.Errorf("after release placed on %v", ids(got))
	}
}

func TestFailureReasons(t *testing.T) {
	draining := instance("draining", 4096, 4096)
	draining.Status = flotilla.InstanceDraining
	disconnected := instance("disconnected", 4096, 4096)
	disconnected.AgentConnected = false
	s := NewSnapshot([]flotilla.ContainerInstance{
		draining, disconnected, instance("small-cpu", 100, 4096), instance("small-mem", 4096, 100),
		instance("other", 4096, 4096, "type=m5.large"), instance("taken", 4096, 4096, "type=t3.large"),
	}, map[string][]string{"taken": {"g"}})
	p := mustCompile(t, []Constraint{distinct, memberOf("attribute:ecs.instance-type =~ t3.*")}, []Strategy{spreadAZ, binpackMemory})
	got, fails := s.Place(p, Request{Group: "g", Reservation: flotilla.Reservation{CPU: 512, MemoryMiB: 512}}, 1)
	want := map[string]string{
		"draining": flotilla.ReasonInactive, "disconnected": flotilla.ReasonAgent,
		"small-cpu": flotilla.ReasonCPU, "small-mem": flotilla.ReasonMemory,
		"other": ReasonMemberOf, "taken": ReasonDistinctInstance,
	}
	if len(got) != 0 || !maps(reasons(fails), want) {
		t.Errorf("placed %v, failures %v, want %v", ids(got), reasons(fails), want)
	}
	for _, f := range fails {
		if f.InstanceARN == "" {
			t.Errorf("failure %v without ARN", f)
		}
	}
	// An empty cluster.
	_, fails = NewSnapshot(nil, nil).Place(p, Request{Group: "g"}, 1)
	if len(fails) != 1 || fails[0].Reason != ReasonNoInstances || fails[0].InstanceID != "" {
		t.Errorf("empty cluster failures %v", fails)
	}
}

func TestPlaceOn(t *testing.T) {
	s := NewSnapshot([]flotilla.ContainerInstance{instance("a", 1024, 1024), instance("b", 100, 1024)}, nil)
	got, fails := s.PlaceOn(Request{Group: "g", Reservation: flotilla.Reservation{CPU: 512}}, []string{"a", "b", "zzz", "a", "a"})
	if want := []string{"a", "a"}; !slices.Equal(ids(got), want) {
		t.Errorf("placed on %v, want %v", ids(got), want)
	}
	want := []Failure{
		{InstanceID: "b", InstanceARN: "arn:aws:ecs:us-east-1:123456789012:container-instance/test/b", Reason: flotilla.ReasonCPU},
		{InstanceID: "zzz", Reason: flotilla.ReasonMissing},
		{InstanceID: "a", InstanceARN: "arn:aws:ecs:us-east-1:123456789012:container-instance/test/a", Reason: flotilla.ReasonCPU},
	}
	if !slices.Equal(fails, want) {
		t.Errorf("failures %v, want %v", fails, want)
	}
}

func TestUpdateAndRemove(t *testing.T) {
	s := NewSnapshot([]flotilla.ContainerInstance{instance("a", 1024, 1024, "az=x"), instance("b", 1024, 2048, "az=y")}, nil)
	p := mustCompile(t, []Constraint{memberOf("attribute:ecs.availability-zone == x")}, []Strategy{binpackMemory})
	req := Request{Group: "g", Reservation: flotilla.Reservation{MemoryMiB: 512}}
	if got, _ := s.Place(p, req, 1); !slices.Equal(ids(got), []string{"a"}) {
		t.Fatalf("placed on %v", ids(got))
	}
	// b moves to x; a is drained; c registers.
	s.Update(instance("b", 1024, 2048, "az=x"), nil)
	a := instance("a", 1024, 512, "az=x")
	a.Status = flotilla.InstanceDraining
	s.Update(a, []string{"g"})
	s.Update(instance("c", 1024, 4096, "az=x"), nil)
	if got, _ := s.Place(p, req, 2); !slices.Equal(ids(got), []string{"b", "b"}) {
		t.Errorf("placed on %v, want b b", ids(got))
	}
	s.Remove("b")
	if got, _ := s.Place(p, req, 1); !slices.Equal(ids(got), []string{"c"}) {
		t.Errorf("placed on %v, want c", ids(got))
	}
	if s.Len() != 2 {
		t.Errorf("Len = %d", s.Len())
	}
	if cpu, mem, ok := s.Remaining("c"); !ok || cpu != 1024 || mem != 3584 {
		t.Errorf("Remaining(c) = %d %d %v", cpu, mem, ok)
	}
}

func TestGroupsByInstance(t *testing.T) {
	got := GroupsByInstance([]flotilla.Task{
		{InstanceID: "a", Group: "service:web", DesiredStatus: flotilla.TaskRunning},
		{InstanceID: "a", Group: "service:web", DesiredStatus: flotilla.TaskRunning},
		{InstanceID: "a", Group: "family:x", DesiredStatus: flotilla.TaskStopped},
		{InstanceID: "b", Group: "family:x", DesiredStatus: flotilla.TaskRunning},
	})
	if !slices.Equal(got["a"], []string{"service:web", "service:web"}) || !slices.Equal(got["b"], []string{"family:x"}) {
		t.Errorf("GroupsByInstance = %v", got)
	}
}

func TestMemberOfInstanceSubjects(t *testing.T) {
	old := instance("old", 1024, 1024)
	old.VersionInfo.AgentVersion = "1.9.0"
	old.RegisteredAt = time.Date(2018, 2, 1, 0, 0, 0, 0, time.UTC)
	old.RunningTasksCount = 5
	gone := instance("gone", 1024, 1024)
	gone.AgentConnected = false
	s := NewSnapshot([]flotilla.ContainerInstance{old, instance("new", 1024, 1024), gone}, nil)
	for expr, want := range map[string]string{
		"agentVersion < 1.14.5":     "old",
		"agentVersion >= 1.14.5":    "new",
		"registeredAt < 2018-02-13": "old",
		"registeredAt > 2020-01-01": "new",
		"runningTasksCount > 1":     "old",
		"agentConnected == false":   "", // such instances are never candidates
	} {
		p := mustCompile(t, []Constraint{memberOf(expr)}, nil)
		got, _ := s.Place(p, Request{Group: "g", Reservation: flotilla.Reservation{MemoryMiB: 1}}, 1)
		if want == "" && len(got) != 0 || want != "" && !slices.Equal(ids(got), []string{want}) {
			t.Errorf("%s: placed on %v, want %q", expr, ids(got), want)
		}
	}
}

func TestManyPlans(t *testing.T) {
	// More plans than the snapshot keeps views for: the least recently used
	// views go and come back, and answers do not change.
	var cis []flotilla.ContainerInstance
	for i := range 20 {
		cis = append(cis, instance(fmt.Sprintf("i%02d", i), 100000, 100000, "az="+azs[i%3]))
	}
	fast, slow := NewSnapshot(cis, nil), NewSnapshot(cis, nil)
	for round := range 3 {
		for k := range maxViews + 8 {
			p := mustCompile(t, []Constraint{memberOf(fmt.Sprintf("ec2InstanceId != i-i%02d or agentVersion != %d", k%20, k))},
				[]Strategy{spreadAZ, binpackMemory})
			req := Request{Group: fmt.Sprintf("g%d", k%5), Reservation: flotilla.Reservation{MemoryMiB: 1 + k}}
			got, _ := fast.Place(p, req, 3)
			want, _ := slow.Place(forceGeneric(p), req, 3)
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("round %d plan %d: placed on %v, want %v", round, k, ids(got), ids(want))
			}
		}
	}
	if len(fast.viewList) != maxViews || len(fast.views) != maxViews {
		t.Errorf("%d views kept, want %d", len(fast.viewList), maxViews)
	}
}
