package service

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/lb"
)

// lbInput returns the input of a load-balanced service of d tasks at
// min%/max%, with one running task per given target state (tasks t-0,
// t-1, ... started two minutes ago, past the grace period).
func lbInput(d, minPct, maxPct int, states ...string) Input {
	svc := newService(d, minPct, maxPct, deployment("d", flotilla.DeploymentPrimary, td1, flotilla.RolloutCompleted, 60))
	svc.HealthCheckGracePeriodSeconds = 60
	in := Input{Service: svc, Instances: cluster, Now: t0, LoadBalanced: true, TargetHealth: map[string]TargetHealth{}}
	for i, st := range states {
		id := fmt.Sprintf("t-%d", i)
		in.Tasks = append(in.Tasks, newTask(id, "d", abc[i%len(abc)], flotilla.TaskRunning, startedAt(t0.Add(-2*time.Minute))))
		in.TargetHealth[id] = TargetHealth{State: st, Group: tgARN}
	}
	return in
}

const (
	healthy   = lb.StateHealthy
	unhealthy = lb.StateUnhealthy
)

// TestReconcileReplacesUnhealthy checks that tasks failing their health
// checks are replaced within the service's bounds: replacements first as
// maximumPercent allows, stopped once replaced, and otherwise one at a
// time without taking the serving tasks below minimumHealthyPercent, the
// unhealthy ones serving too when every target is unhealthy (fail-open).
func TestReconcileReplacesUnhealthy(t *testing.T) {
	start := func(n int) []Start { return []Start{{DeploymentID: "d", TaskDefinitionARN: td1, Count: n}} }
	withTask := func(in Input, id, last, state string) Input {
		in.Tasks = append(in.Tasks, newTask(id, "d", "c1", last, startedAt(t0.Add(-time.Second))))
		if state != "" {
			in.TargetHealth[id] = TargetHealth{State: state, Group: tgARN}
		}
		return in
	}
	for _, tc := range []struct {
		name   string
		in     Input
		stops  int // which ones is the placement strategy's choice
		starts []Start
	}{
		{name: "one of three unhealthy, room to start: replacement first",
			in: lbInput(3, 100, 200, healthy, unhealthy, healthy), starts: start(1)},
		{name: "its replacement starting: kept",
			in: withTask(lbInput(3, 100, 200, healthy, unhealthy, healthy), "r", flotilla.TaskPending, "")},
		{name: "its replacement healthy: stopped",
			in: withTask(lbInput(3, 100, 200, healthy, unhealthy, healthy), "r", flotilla.TaskRunning, healthy), stops: 1},
		{name: "no room at 100%: stopped first, it serves nothing, and replaced",
			in: lbInput(3, 100, 100, healthy, unhealthy, healthy), stops: 1, starts: start(1)},
		{name: "no room, two unhealthy: one at a time",
			in: lbInput(3, 100, 100, healthy, unhealthy, unhealthy), stops: 1, starts: start(1)},
		{name: "no room, one replacement starting: none",
			in: withTask(lbInput(3, 100, 100, healthy, unhealthy), "r", flotilla.TaskRunning, lb.StateInitial)},
		{name: "all unhealthy (fail-open), room: replacements first, nothing stopped",
			in: lbInput(3, 100, 200, unhealthy, unhealthy, unhealthy), starts: start(3)},
		{name: "fail-open, one replacement healthy: one stopped",
			in: withTask(withTask(lbInput(3, 100, 200, unhealthy, unhealthy, unhealthy), "r0", flotilla.TaskRunning, healthy),
				"r1", flotilla.TaskRunning, lb.StateInitial), stops: 1, starts: start(1)},
		{name: "fail-open, no room, floor 100%: all kept, they serve",
			in: lbInput(3, 100, 100, unhealthy, unhealthy, unhealthy)},
		{name: "fail-open, no room, floor 50%: one at a time",
			in: lbInput(4, 50, 100, unhealthy, unhealthy, unhealthy, unhealthy), stops: 1, starts: start(1)},
		{name: "fail-open, no room, floor 0%: still one at a time",
			in: lbInput(3, 0, 100, unhealthy, unhealthy, unhealthy), stops: 1, starts: start(1)},
		{name: "more failing than desired: the surplus goes",
			in: lbInput(2, 100, 200, unhealthy, unhealthy, unhealthy, unhealthy), stops: 2, starts: start(2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Reconcile(tc.in)
			if len(p.Stop) != tc.stops {
				t.Errorf("stops = %v, want %d", stopIDs(p), tc.stops)
			}
			wantStarts(t, p, tc.starts...)
			for _, s := range p.Stop {
				if !strings.HasPrefix(s.TaskID, "t-") || tc.in.TargetHealth[s.TaskID].State != unhealthy ||
					!strings.HasPrefix(s.Reason, "Task failed ELB health checks") {
					t.Errorf("stop %+v, want for failing ELB health checks", s)
				}
			}
		})
	}
}

// TestReconcileReplacesFailOpenGradually runs services whose targets are
// all unhealthy to the end of their replacement, the plans applied at
// once and every new task healthy, and checks at every step that no more
// than one serving task is stopped, that the serving tasks never fall
// below the floor by stopping, and that the running and pending tasks
// never exceed the maximum.
func TestReconcileReplacesFailOpenGradually(t *testing.T) {
	for _, cfg := range [][3]int{{4, 50, 100}, {4, 0, 100}, {4, 100, 200}, {3, 100, 150}, {5, 50, 200}} {
		d, minPct, maxPct := cfg[0], cfg[1], cfg[2]
		t.Run(fmt.Sprintf("D=%d,%d%%-%d%%", d, minPct, maxPct), func(t *testing.T) {
			states := make([]string, d)
			for i := range states {
				states[i] = unhealthy
			}
			in := lbInput(d, minPct, maxPct, states...)
			minH, maxT := bounds(in.Service.DeploymentConfiguration, false, d)
			next := 0
			for step := 0; ; step++ {
				if step > 10*d {
					t.Fatalf("not replaced after %d steps: %+v", step, in.Tasks)
				}
				servingBefore := 0
				for _, tk := range in.Tasks {
					if specServing(in, tk) {
						servingBefore++
					}
				}
				p := Reconcile(in)
				stopped := map[string]bool{}
				for _, s := range p.Stop {
					stopped[s.TaskID] = true
				}
				servingAfter, stoppedServing, live := 0, 0, 0
				for _, tk := range in.Tasks {
					if !specLive(tk) {
						continue
					}
					if !stopped[tk.ID] {
						live++
					}
					if specServing(in, tk) {
						if stopped[tk.ID] {
							stoppedServing++
						} else {
							servingAfter++
						}
					}
				}
				for _, s := range p.Start {
					live += s.Count
				}
				if stoppedServing > 1 {
					t.Errorf("step %d: %d serving tasks stopped at once", step, stoppedServing)
				}
				if servingAfter < min(servingBefore, minH) {
					t.Errorf("step %d: %d serving after the plan, %d before, floor %d", step, servingAfter, servingBefore, minH)
				}
				if live > maxT {
					t.Errorf("step %d: %d running and pending, maximum %d", step, live, maxT)
				}
				if len(p.Stop) == 0 && len(p.Start) == 0 {
					break
				}
				// Apply the plan: stopped tasks are gone, started ones run
				// and are healthy.
				for i := range in.Tasks {
					if stopped[in.Tasks[i].ID] {
						in.Tasks[i].DesiredStatus, in.Tasks[i].LastStatus = flotilla.TaskStopped, flotilla.TaskStopped
						in.Tasks[i].StopCode, in.Tasks[i].StoppedReason = flotilla.StopServiceSchedulerInit, stopReason(p, in.Tasks[i].ID)
					}
				}
				for _, s := range p.Start {
					for range s.Count {
						id := fmt.Sprintf("n-%02d", next)
						next++
						in.Tasks = append(in.Tasks, newTask(id, "d", abc[next%len(abc)], flotilla.TaskRunning, startedAt(in.Now)))
						in.TargetHealth[id] = TargetHealth{State: healthy}
					}
				}
				in.Service = p.Service
				in.Now = in.Now.Add(10 * time.Second)
			}
			healthyLeft, other := 0, 0
			for _, tk := range in.Tasks {
				switch {
				case tk.DesiredStatus != flotilla.TaskRunning:
				case strings.HasPrefix(tk.ID, "n-"):
					healthyLeft++
				default:
					other++
				}
			}
			if healthyLeft != d || other != 0 {
				t.Errorf("ended with %d new tasks and %d old ones, want %d and 0", healthyLeft, other, d)
			}
		})
	}
}

func stopReason(p Plan, id string) string { return stopOf(p, id).Reason }
