package lbnode

import (
	"fmt"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
)

const mergeGroup = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1"

var mergeNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func th(id string, port int, state string) lb.TargetHealth {
	return lb.TargetHealth{Target: lb.Target{ID: id, Port: port}, State: state}
}

func report(node string, age time.Duration, ths ...lb.TargetHealth) Report {
	return Report{Node: node, At: mergeNow.Add(-age), Groups: map[string][]lb.TargetHealth{mergeGroup: ths}}
}

func TestMerge(t *testing.T) {
	reports := []Report{
		report("a", time.Second,
			th("10.0.0.1", 80, lb.StateHealthy), th("10.0.0.2", 80, lb.StateHealthy), th("10.0.0.3", 80, lb.StateHealthy),
			th("10.0.0.4", 80, lb.StateInitial), th("10.0.0.5", 80, lb.StateHealthy), th("10.0.0.6", 80, lb.StateUnused),
			th("10.0.0.7", 80, lb.StateUnhealthy), th("10.0.0.8", 80, lb.StateUnhealthy)),
		report("b", 2*time.Second,
			th("10.0.0.1", 80, lb.StateHealthy), th("10.0.0.2", 80, lb.StateUnhealthy), th("10.0.0.3", 80, lb.StateDraining),
			th("10.0.0.4", 80, lb.StateHealthy), th("10.0.0.6", 80, lb.StateUnavailable), th("10.0.0.7", 80, lb.StateUnhealthy),
			th("10.0.0.8", 80, lb.StateInitial)),
		// Gone: its view no longer counts.
		report("c", ReportTTL+time.Second, th("10.0.0.1", 80, lb.StateUnhealthy), th("10.0.0.9", 80, lb.StateHealthy)),
	}
	got := Merge(reports, mergeNow, mergeGroup)
	want := map[string]string{
		"10.0.0.1": lb.StateHealthy,   // healthy everywhere
		"10.0.0.2": lb.StateInitial,   // one node of two finds it unhealthy: no quorum either way
		"10.0.0.3": lb.StateHealthy,   // a node's draining view does not count
		"10.0.0.4": lb.StateInitial,   // not yet healthy everywhere
		"10.0.0.5": lb.StateHealthy,   // only one node knows it
		"10.0.0.6": lb.StateInitial,   // the nodes disagree
		"10.0.0.7": lb.StateUnhealthy, // every node finds it unhealthy
		"10.0.0.8": lb.StateUnhealthy, // the only node that has judged it finds it unhealthy
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
	if other := Merge(reports, mergeNow, mergeGroup+"x"); len(other) != 0 {
		t.Errorf("Merge of another group = %+v, want none", other)
	}
}

// TestMergeQuorum checks that a target's health is a quorum of the nodes
// that see it: one node, or a node finding everything unhealthy, does not
// make healthy targets unhealthy, while what most nodes see does.
func TestMergeQuorum(t *testing.T) {
	all := func(node, state string, ids ...string) Report {
		var ths []lb.TargetHealth
		for _, id := range ids {
			ths = append(ths, th(id, 80, state))
		}
		return report(node, time.Second, ths...)
	}
	three := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
	for _, tc := range []struct {
		name    string
		reports []Report
		want    map[string]string
	}{{
		name:    "one of two nodes finds everything unhealthy",
		reports: []Report{all("a", lb.StateHealthy, three...), all("b", lb.StateUnhealthy, three...)},
		want:    map[string]string{"10.0.0.1": lb.StateHealthy, "10.0.0.2": lb.StateHealthy, "10.0.0.3": lb.StateHealthy},
	}, {
		name:    "forged report listed first",
		reports: []Report{all("0forged", lb.StateUnhealthy, three...), all("a", lb.StateHealthy, three...)},
		want:    map[string]string{"10.0.0.1": lb.StateHealthy, "10.0.0.2": lb.StateHealthy, "10.0.0.3": lb.StateHealthy},
	}, {
		name: "a suspect node's view of a target nobody else knows",
		reports: []Report{all("a", lb.StateHealthy, "10.0.0.1"),
			all("b", lb.StateUnhealthy, "10.0.0.1", "10.0.0.2")},
		want: map[string]string{"10.0.0.1": lb.StateHealthy, "10.0.0.2": lb.StateInitial},
	}, {
		name:    "every node finds everything unhealthy",
		reports: []Report{all("a", lb.StateUnhealthy, three...), all("b", lb.StateUnhealthy, three...)},
		want:    map[string]string{"10.0.0.1": lb.StateUnhealthy, "10.0.0.2": lb.StateUnhealthy, "10.0.0.3": lb.StateUnhealthy},
	}, {
		name:    "a single node finds everything unhealthy",
		reports: []Report{all("a", lb.StateUnhealthy, three...)},
		want:    map[string]string{"10.0.0.1": lb.StateUnhealthy, "10.0.0.2": lb.StateUnhealthy, "10.0.0.3": lb.StateUnhealthy},
	}, {
		name: "two of three nodes find one target unhealthy",
		reports: []Report{
			report("a", time.Second, th("10.0.0.1", 80, lb.StateUnhealthy), th("10.0.0.2", 80, lb.StateHealthy)),
			report("b", time.Second, th("10.0.0.1", 80, lb.StateUnhealthy), th("10.0.0.2", 80, lb.StateHealthy)),
			report("c", time.Second, th("10.0.0.1", 80, lb.StateHealthy), th("10.0.0.2", 80, lb.StateHealthy)),
		},
		want: map[string]string{"10.0.0.1": lb.StateUnhealthy, "10.0.0.2": lb.StateHealthy},
	}, {
		name: "one of three nodes finds one target unhealthy",
		reports: []Report{
			report("a", time.Second, th("10.0.0.1", 80, lb.StateUnhealthy), th("10.0.0.2", 80, lb.StateHealthy)),
			report("b", time.Second, th("10.0.0.1", 80, lb.StateHealthy), th("10.0.0.2", 80, lb.StateHealthy)),
			report("c", time.Second, th("10.0.0.1", 80, lb.StateHealthy), th("10.0.0.2", 80, lb.StateHealthy)),
		},
		want: map[string]string{"10.0.0.1": lb.StateInitial, "10.0.0.2": lb.StateHealthy},
	}, {
		name:    "one node drains every target",
		reports: []Report{all("a", lb.StateHealthy, three...), all("b", lb.StateDraining, three...)},
		want:    map[string]string{"10.0.0.1": lb.StateHealthy, "10.0.0.2": lb.StateHealthy, "10.0.0.3": lb.StateHealthy},
	}, {
		name: "only draining or suspect nodes know a target",
		reports: []Report{all("a", lb.StateHealthy, "10.0.0.1"),
			report("b", time.Second, th("10.0.0.1", 80, lb.StateUnhealthy), th("10.0.0.2", 80, lb.StateUnhealthy)),
			all("c", lb.StateDraining, "10.0.0.2", "10.0.0.3")},
		want: map[string]string{"10.0.0.1": lb.StateHealthy, "10.0.0.2": lb.StateInitial, "10.0.0.3": lb.StateInitial},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, h := range Merge(tc.reports, mergeNow, mergeGroup) {
				got[h.Target.ID] = h.State
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Merge = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMergeReason checks that an entry carries the reason of a node whose
// view decided it, not of a suspect node's.
func TestMergeReason(t *testing.T) {
	bad := lb.TargetHealth{Target: lb.Target{ID: "10.0.0.1", Port: 80}, State: lb.StateUnhealthy,
		Reason: lb.ReasonTimeout, Description: "Request timed out"}
	reports := []Report{
		report("a", time.Second, th("10.0.0.1", 80, lb.StateHealthy), th("10.0.0.2", 80, lb.StateHealthy)),
		report("b", time.Second, th("10.0.0.1", 80, lb.StateHealthy), th("10.0.0.2", 80, lb.StateHealthy)),
		report("c", time.Second, th("10.0.0.1", 80, lb.StateUnhealthy), th("10.0.0.2", 80, lb.StateUnhealthy)),
	}
	if got := Merge(reports, mergeNow, mergeGroup)[0]; got.State != lb.StateHealthy || got.Reason != "" {
		t.Errorf("Merge = %+v, want healthy with no reason", got)
	}
	reports = []Report{
		report("a", time.Second, th("10.0.0.1", 80, lb.StateHealthy), th("10.0.0.2", 80, lb.StateHealthy)),
		report("b", time.Second, bad, th("10.0.0.2", 80, lb.StateHealthy)),
		report("c", time.Second, bad, th("10.0.0.2", 80, lb.StateHealthy)),
	}
	if got := Merge(reports, mergeNow, mergeGroup)[0]; got != bad {
		t.Errorf("Merge = %+v, want %+v", got, bad)
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
