package lbnode

import (
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
)

func TestMerge(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	const tg = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1"
	th := func(id string, port int, state string) lb.TargetHealth {
		return lb.TargetHealth{Target: lb.Target{ID: id, Port: port}, State: state}
	}
	report := func(node string, age time.Duration, ths ...lb.TargetHealth) Report {
		return Report{Node: node, At: now.Add(-age), Groups: map[string][]lb.TargetHealth{tg: ths}}
	}
	reports := []Report{
		report("a", time.Second,
			th("10.0.0.1", 80, lb.StateHealthy), th("10.0.0.2", 80, lb.StateHealthy), th("10.0.0.3", 80, lb.StateHealthy),
			th("10.0.0.4", 80, lb.StateInitial), th("10.0.0.5", 80, lb.StateHealthy), th("10.0.0.6", 80, lb.StateUnused)),
		report("b", 2*time.Second,
			th("10.0.0.1", 80, lb.StateHealthy), th("10.0.0.2", 80, lb.StateUnhealthy), th("10.0.0.3", 80, lb.StateDraining),
			th("10.0.0.4", 80, lb.StateHealthy), th("10.0.0.6", 80, lb.StateUnavailable)),
		// Gone: its view no longer counts.
		report("c", ReportTTL+time.Second, th("10.0.0.1", 80, lb.StateUnhealthy), th("10.0.0.9", 80, lb.StateHealthy)),
	}
	got := Merge(reports, now, tg)
	want := map[string]string{
		"10.0.0.1": lb.StateHealthy,   // healthy everywhere
		"10.0.0.2": lb.StateUnhealthy, // one node finds it unhealthy
		"10.0.0.3": lb.StateDraining,  // one node drains it
		"10.0.0.4": lb.StateInitial,   // not yet healthy everywhere
		"10.0.0.5": lb.StateHealthy,   // only one node knows it
		"10.0.0.6": lb.StateInitial,   // the nodes disagree
	}
	if len(got) != len(want) {
		t.Fatalf("Merge = %+v, want %d targets", got, len(want))
	}
	for i, h := range got {
		if i > 0 && got[i-1].Target.ID >= h.Target.ID {
			t.Errorf("targets not sorted: %s before %s", got[i-1].Target.ID, h.Target.ID)
		}
		if want[h.Target.ID] != h.State {
			t.Errorf("%s: state %s, want %s", h.Target.ID, h.State, want[h.Target.ID])
		}
	}
	if other := Merge(reports, now, tg+"x"); len(other) != 0 {
		t.Errorf("Merge of another group = %+v, want none", other)
	}
}

func TestMergeListenerErrors(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	const l1, l2 = "arn:listener/1", "arn:listener/2"
	reports := []Report{
		{Node: "b", At: now.Add(-time.Second), ListenerErrors: map[string]string{l1: "port taken"}},
		{Node: "a", At: now.Add(-time.Second), ListenerErrors: map[string]string{l1: "permission denied", l2: "no certificate"}},
		{Node: "c", At: now.Add(-ReportTTL - time.Second), ListenerErrors: map[string]string{l2: "gone node"}},
		{Node: "d", At: now}, // an earlier release's report, or all open
	}
	got := MergeListenerErrors(reports, now)
	want := map[string]string{
		l1: "node a: permission denied; node b: port taken",
		l2: "node a: no certificate",
	}
	if len(got) != len(want) || got[l1] != want[l1] || got[l2] != want[l2] {
		t.Errorf("got %q, want %q", got, want)
	}
}
