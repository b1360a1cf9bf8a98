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
)

// applyTasks converges on a task set from the server: new tasks start,
// tasks to stop stop, and tasks the server no longer lists are stopped. A
// task already reported STOPPED never starts again.
func (a *Agent) applyTasks(ctx context.Context, seq int64, tasks []link.Task) {
	var stale bool
	a.state.view(func(s *State) { stale = seq < s.Seq })
	if stale {
		return
	}
	wanted := map[string]bool{}
	for _, t := range tasks {
		wanted[t.ARN] = true
		var ts *TaskState
		a.state.view(func(s *State) { ts = s.Tasks[t.ARN] })
		if ts != nil {
			if ts.Done {
				continue
			}
			if t.DesiredStatus != ts.DesiredStatus {
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
			ts.Containers[str(c.Name)] = &ContainerRecord{Name: str(c.Name)}
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
		a.log.Error("start task", "err", err)
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
	known := map[string]bool{}
	a.state.view(func(s *State) {
		for arn, ts := range s.Tasks {
			known[arn] = true
			if ts.Done && time.Since(ts.StoppedAt) > a.cfg.CleanupWait {
				expired = append(expired, ts)
			}
		}
	})
	for _, ts := range expired {
		var ids []string
		a.state.view(func(*State) {
			for _, c := range ts.Containers {
				if c.RuntimeID != "" {
					ids = append(ids, c.RuntimeID)
				}
			}
		})
		ok := true
		for _, id := range ids {
			if err := a.rt.Remove(ctx, id); err != nil && !errors.Is(err, ErrNoSuchContainer) {
				ok = false
			}
		}
		if ok {
			_ = os.RemoveAll(filepath.Join(a.cfg.DataDir, "volumes", taskID(ts.ARN)))
			_ = a.state.update(func(s *State) { delete(s.Tasks, ts.ARN) })
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
	cs, err := a.rt.List(ctx, map[string]string{LabelInstance: instance})
	if err != nil {
		return
	}
	for _, c := range cs {
		if known[c.Labels[LabelTaskARN]] {
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
