package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/link"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
)

// applyTasks converges on a task set from the server: new tasks start,
// tasks to stop stop, and tasks the server no longer lists are stopped. A
// task already reported STOPPED never starts again.
//
// first says the set is the first of a link session: it is applied whatever
// its sequence number (the server's store may have been replaced); later
// sets of the session are applied only when newer.
func (a *Agent) applyTasks(ctx context.Context, seq int64, tasks []link.Task, first bool) {
	var stale bool
	a.state.view(func(s *State) { stale = seq < s.Seq && !first })
	if stale {
		return
	}
	wanted := map[string]bool{}
	for _, t := range tasks {
		wanted[t.ARN] = true
		var ts *TaskState
		var done, forgotten bool
		var desired string
		a.state.view(func(s *State) {
			ts = s.Tasks[t.ARN]
			_, forgotten = s.Forgotten[t.ARN]
			if ts != nil {
				done, desired = ts.Done, ts.DesiredStatus
			}
		})
		if forgotten {
			continue // stopped and cleaned up long ago: never again
		}
		if ts != nil {
			if done {
				continue
			}
			if t.DesiredStatus != desired {
				_ = a.state.update(func(*State) { ts.DesiredStatus, ts.StopReason = t.DesiredStatus, t.StopReason })
			}
			if r := a.runner(t.ARN); r != nil {
				r.setDesired(t.DesiredStatus, t.StopReason)
			}
			continue
		}
		ts = &TaskState{ARN: t.ARN, Family: t.Family, Revision: t.Revision, Definition: t.Definition, Overrides: t.Overrides,
			DesiredStatus: t.DesiredStatus, StopReason: t.StopReason, Containers: map[string]*ContainerRecord{}}
		var def wire.TaskDefinition
		_ = jsonUnmarshal(t.Definition, &def)
		for _, c := range def.ContainerDefinitions {
			ts.Containers[ptr.Deref(c.Name)] = &ContainerRecord{Name: ptr.Deref(c.Name)}
		}
		if err := a.state.update(func(s *State) { s.Tasks[t.ARN] = ts }); err != nil {
			a.log.Error("record new task", "task", t.ARN, "err", err)
			continue
		}
		a.startRunner(ts)
	}
	var gone []*TaskState
	a.state.view(func(s *State) {
		for arn, ts := range s.Tasks {
			if !wanted[arn] && !ts.Done && ts.DesiredStatus != flotilla.TaskStopped {
				gone = append(gone, ts)
			}
		}
	})
	for _, ts := range gone {
		reason := "Task is no longer wanted by the server"
		_ = a.state.update(func(*State) { ts.DesiredStatus, ts.StopReason = flotilla.TaskStopped, reason })
		if r := a.runner(ts.ARN); r != nil {
			r.setDesired(flotilla.TaskStopped, reason)
		}
	}
	_ = a.state.update(func(s *State) { s.Seq = seq })
}

func (a *Agent) runner(arn string) *taskRunner {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runners[arn]
}

// startRunner starts the goroutine of a task, once.
func (a *Agent) startRunner(ts *TaskState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.runners[ts.ARN]; ok {
		select {
		case <-old.done:
		default:
			return
		}
	}
	r, err := newTaskRunner(a, ts)
	if err != nil {
		// A task that cannot even be decoded is reported stopped rather
		// than left PROVISIONING forever.
		a.log.Error("start task", "err", err)
		in := &wire.SubmitTaskStateChangeRequest{Cluster: ptr.To(a.clusterARN), Task: ptr.To(ts.ARN), Status: ptr.To(flotilla.TaskStopped),
			Reason: ptr.To("CannotStartTaskError: " + err.Error())}
		_ = a.reporter.enqueue(in, func(*State) { ts.Done, ts.StoppedAt, ts.Status = true, time.Now().UTC(), flotilla.TaskStopped })
		return
	}
	a.runners[ts.ARN] = r
	go r.run(a.runCtx)
}

// adopt resumes the tasks the state file knows: their running containers
// are watched, not restarted; containers that vanished while the agent was
// down are reported stopped.
func (a *Agent) adopt(ctx context.Context) {
	var tasks []*TaskState
	a.state.view(func(s *State) {
		for _, ts := range s.Tasks {
			if !ts.Done {
				tasks = append(tasks, ts)
			}
		}
	})
	for _, ts := range tasks {
		a.log.Info("resuming task", "task", ts.ARN, "status", ts.Status)
		a.startRunner(ts)
	}
}

// housekeep removes the containers of tasks stopped longer than CleanupWait
// and stops and removes containers of this instance that belong to no known
// task.
func (a *Agent) housekeep(ctx context.Context) {
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		a.cleanup(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (a *Agent) cleanup(ctx context.Context) {
	var expired []*TaskState
	a.state.view(func(s *State) {
		for _, ts := range s.Tasks {
			if ts.Done && time.Since(ts.StoppedAt) > a.cfg.CleanupWait {
				expired = append(expired, ts)
			}
		}
	})
	for _, ts := range expired {
		var ids []string
		var busy bool
		a.state.view(func(s *State) {
			busy = s.queued(ts.ARN) // its STOPPED report is not delivered yet
			for _, c := range ts.Containers {
				if c.RuntimeID != "" {
					ids = append(ids, c.RuntimeID)
				}
			}
		})
		if busy {
			continue
		}
		ok := true
		for _, id := range ids {
			if err := a.rt.Remove(ctx, id); err != nil && !errors.Is(err, ErrNoSuchContainer) {
				ok = false
			}
		}
		if ok {
			_ = os.RemoveAll(filepath.Join(a.cfg.DataDir, "volumes", taskID(ts.ARN)))
			_ = a.state.update(func(s *State) {
				delete(s.Tasks, ts.ARN)
				if s.Forgotten == nil {
					s.Forgotten = map[string]time.Time{}
				}
				s.Forgotten[ts.ARN] = time.Now()
			})
			a.mu.Lock()
			delete(a.runners, ts.ARN)
			a.mu.Unlock()
		}
	}
	a.mu.Lock()
	instance := a.instanceARN
	a.mu.Unlock()
	if instance == "" {
		return
	}
	_ = a.state.update(func(s *State) {
		for arn, at := range s.Forgotten {
			if time.Since(at) > forgottenFor {
				delete(s.Forgotten, arn)
			}
		}
	})
	cs, err := a.rt.List(ctx, map[string]string{LabelInstance: instance})
	if err != nil {
		return
	}
	for _, c := range cs {
		// Decide with the state as it is now, not as it was before the
		// (slow) listing: a task may have arrived meanwhile. A container
		// made a moment ago may belong to a task whose record is being
		// written: leave it for the next round.
		var known bool
		a.state.view(func(s *State) { _, known = s.Tasks[c.Labels[LabelTaskARN]] })
		if known || time.Since(c.CreatedAt) < time.Minute {
			continue
		}
		a.log.Info("removing a container of no known task", "container", c.Name, "task", c.Labels[LabelTaskARN])
		_ = a.rt.Stop(ctx, c.ID, defaultStopTimeout)
		_ = a.rt.Remove(ctx, c.ID)
	}
}

// health returns the container health of a task with health checks.
func (a *Agent) health(arn string) *link.Health {
	var h *link.Health
	a.state.view(func(s *State) {
		ts := s.Tasks[arn]
		if ts == nil || ts.Done {
			return
		}
		for name, c := range ts.Containers {
			if c.Health == "" {
				continue
			}
			if h == nil {
				h = &link.Health{TaskARN: arn, Containers: map[string]string{}}
			}
			h.Containers[name] = c.Health
		}
	})
	return h
}

// allHealth returns the health of every task with health checks.
func (a *Agent) allHealth() []*link.Health {
	var arns []string
	a.state.view(func(s *State) {
		for arn := range s.Tasks {
			arns = append(arns, arn)
		}
	})
	var out []*link.Health
	for _, arn := range arns {
		if h := a.health(arn); h != nil {
			out = append(out, h)
		}
	}
	return out
}
