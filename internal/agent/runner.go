package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
)

// taskRunner drives one task's containers through ECS's lifecycle. Its
// goroutine owns the task; other goroutines talk to it through setDesired
// and wakeUp. Every step is idempotent given the records in the state file,
// so a restarted agent resumes a task where it was.
type taskRunner struct {
	a         *Agent
	id        string
	ts        *TaskState // shared with the state file: change only inside state.update
	def       wire.TaskDefinition
	overrides *wire.TaskOverride
	wake      chan struct{}
	done      chan struct{}

	mu            sync.Mutex
	desired       string
	desiredReason string

	// owned by the runner goroutine
	observed  map[string]ContainerState
	waitSince map[string]time.Time
	stopWhy   string
}

func newTaskRunner(a *Agent, ts *TaskState) (*taskRunner, error) {
	r := &taskRunner{a: a, id: taskID(ts.ARN), ts: ts, wake: make(chan struct{}, 1), done: make(chan struct{}),
		desired: ts.DesiredStatus, desiredReason: ts.StopReason, observed: map[string]ContainerState{}, waitSince: map[string]time.Time{}}
	if err := json.Unmarshal(ts.Definition, &r.def); err != nil {
		return nil, fmt.Errorf("task %s: decode task definition: %w", ts.ARN, err)
	}
	if len(ts.Overrides) > 0 {
		r.overrides = &wire.TaskOverride{}
		if err := json.Unmarshal(ts.Overrides, r.overrides); err != nil {
			return nil, fmt.Errorf("task %s: decode overrides: %w", ts.ARN, err)
		}
	}
	return r, nil
}

func (r *taskRunner) setDesired(status, reason string) {
	r.mu.Lock()
	r.desired, r.desiredReason = status, reason
	r.mu.Unlock()
	r.wakeUp()
}

func (r *taskRunner) wakeUp() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *taskRunner) stopWanted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.desired == flotilla.TaskStopped && r.stopWhy == "" {
		r.stopWhy = r.desiredReason
	}
	return r.desired == flotilla.TaskStopped || r.stopWhy != ""
}

// record returns a copy of a container's record.
func (r *taskRunner) record(name string) ContainerRecord {
	var c ContainerRecord
	r.a.state.view(func(*State) {
		if p := r.ts.Containers[name]; p != nil {
			c = *p
		}
	})
	return c
}

func (r *taskRunner) status() string {
	var s string
	r.a.state.view(func(*State) { s = r.ts.Status })
	return s
}

// run drives the task until it is STOPPED or the agent stops.
func (r *taskRunner) run(ctx context.Context) {
	defer close(r.done)
	log := r.a.log.With("task", r.ts.ARN)
	st := r.status()
	if st == flotilla.TaskStopped {
		return
	}
	if !r.stopWanted() && !flotilla.TaskStatusAfter(st, flotilla.TaskPending) {
		if err := r.prepare(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Info("task failed to start", "err", err)
			r.fail(err.Error())
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for !r.stopWanted() {
		r.observe(ctx)
		if name := r.exitedEssential(); name != "" {
			r.fail("Essential container in task exited")
			break
		}
		if err := r.startReady(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			r.fail(err.Error())
			break
		}
		r.reportProgress()
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-tick.C:
		}
	}
	if ctx.Err() != nil {
		return
	}
	r.stop(ctx)
}

func (r *taskRunner) fail(reason string) {
	r.mu.Lock()
	if r.stopWhy == "" {
		r.stopWhy = reason
	}
	r.mu.Unlock()
}

// prepare pulls the images and creates the containers.
func (r *taskRunner) prepare(ctx context.Context) error {
	now := time.Now().UTC()
	r.report(flotilla.TaskPending, "", func(in *wire.SubmitTaskStateChangeRequest) { in.PullStartedAt = &model.Time{Time: now} })
	for i := range r.def.ContainerDefinitions {
		c := &r.def.ContainerDefinitions[i]
		if r.record(ptr.Deref(c.Name)).RuntimeID != "" {
			continue
		}
		image := ptr.Deref(c.Image)
		ok, err := r.a.rt.ImagePresent(ctx, image)
		if err != nil {
			return fmt.Errorf("CannotPullContainerError: %v", err)
		}
		if !ok {
			if err := r.a.rt.Pull(ctx, image, nil); err != nil {
				return fmt.Errorf("CannotPullContainerError: %v", err)
			}
		}
	}
	done := time.Now().UTC()
	ids := map[string]string{}
	for _, c := range r.createOrder() {
		name := ptr.Deref(c.Name)
		if rec := r.record(name); rec.RuntimeID != "" {
			ids[name] = rec.RuntimeID
			continue
		}
		// A container made just before the agent last stopped, but not yet
		// recorded, is adopted rather than made again.
		if existing, err := r.a.rt.List(ctx, map[string]string{LabelTaskARN: r.ts.ARN, LabelContainerName: name}); err == nil && len(existing) > 0 {
			ids[name] = existing[0].ID
			_ = r.a.state.update(func(*State) { r.ts.Containers[name].RuntimeID = existing[0].ID })
			continue
		}
		spec, err := r.containerSpec(c, ids)
		if err != nil {
			return err
		}
		for _, m := range spec.Mounts {
			if m.Type == "bind" && filepath.Dir(m.Source) == filepath.Join(r.a.cfg.DataDir, "volumes", r.id) {
				if err := os.MkdirAll(m.Source, 0o700); err != nil {
					return fmt.Errorf("CannotCreateContainerError: %v", err)
				}
			}
		}
		id, err := r.a.rt.Create(ctx, spec)
		if err != nil {
			return fmt.Errorf("CannotCreateContainerError: %v", err)
		}
		ids[name] = id
		_ = r.a.state.update(func(*State) { r.ts.Containers[name].RuntimeID = id })
	}
	r.report(flotilla.TaskActivating, "", func(in *wire.SubmitTaskStateChangeRequest) { in.PullStoppedAt = &model.Time{Time: done} })
	return nil
}

// createOrder lists the containers so that a container comes after the ones
// it takes volumes from or depends on.
func (r *taskRunner) createOrder() []*wire.ContainerDefinition {
	byName := map[string]*wire.ContainerDefinition{}
	for i := range r.def.ContainerDefinitions {
		byName[ptr.Deref(r.def.ContainerDefinitions[i].Name)] = &r.def.ContainerDefinitions[i]
	}
	var out []*wire.ContainerDefinition
	seen := map[string]bool{}
	var visit func(c *wire.ContainerDefinition)
	visit = func(c *wire.ContainerDefinition) {
		name := ptr.Deref(c.Name)
		if seen[name] {
			return
		}
		seen[name] = true
		for _, vf := range c.VolumesFrom {
			if d := byName[ptr.Deref(vf.SourceContainer)]; d != nil {
				visit(d)
			}
		}
		for _, d := range c.DependsOn {
			if dc := byName[ptr.Deref(d.ContainerName)]; dc != nil {
				visit(dc)
			}
		}
		out = append(out, c)
	}
	for i := range r.def.ContainerDefinitions {
		visit(&r.def.ContainerDefinitions[i])
	}
	return out
}

// observe inspects the task's containers and records what changed.
func (r *taskRunner) observe(ctx context.Context) {
	for i := range r.def.ContainerDefinitions {
		name := ptr.Deref(r.def.ContainerDefinitions[i].Name)
		rec := r.record(name)
		if rec.RuntimeID == "" {
			continue
		}
		st, err := r.a.rt.Inspect(ctx, rec.RuntimeID)
		if errors.Is(err, ErrNoSuchContainer) {
			st = ContainerState{ID: rec.RuntimeID, Status: StatusDead, Error: "container vanished"}
		} else if err != nil {
			continue
		}
		r.observed[name] = st
		health := ""
		switch st.Health {
		case HealthHealthy:
			health = flotilla.HealthHealthy
		case HealthUnhealthy:
			health = flotilla.HealthUnhealthy
		case HealthStarting:
			health = flotilla.HealthUnknown
		}
		if st.Status != StatusRunning && health != "" {
			health = flotilla.HealthUnknown
		}
		if health != rec.Health {
			_ = r.a.state.update(func(*State) { r.ts.Containers[name].Health = health })
			select {
			case r.a.healthQ <- r.ts.ARN:
			default:
			}
		}
	}
}

// exited reports whether a container has run and is no longer running.
func exited(st ContainerState) bool {
	return st.Status == StatusExited || st.Status == StatusDead
}

// exitedEssential names an essential container that has exited, if any.
func (r *taskRunner) exitedEssential() string {
	for i := range r.def.ContainerDefinitions {
		c := &r.def.ContainerDefinitions[i]
		if st, ok := r.observed[ptr.Deref(c.Name)]; ok && essential(c) && exited(st) {
			return ptr.Deref(c.Name)
		}
	}
	return ""
}

// startReady starts the created containers whose dependencies are met.
func (r *taskRunner) startReady(ctx context.Context) error {
	for _, c := range r.createOrder() {
		name := ptr.Deref(c.Name)
		st, ok := r.observed[name]
		if !ok || st.Status != StatusCreated {
			continue
		}
		ready, err := r.dependenciesMet(c)
		if err != nil {
			return err
		}
		if !ready {
			since, waiting := r.waitSince[name]
			if !waiting {
				r.waitSince[name] = time.Now()
			} else if time.Since(since) > startTimeout(c) {
				return fmt.Errorf("DependencyTimeoutError: dependencies of container %s were not resolved within its start timeout", name)
			}
			continue
		}
		if err := r.a.rt.Start(ctx, st.ID); err != nil {
			return fmt.Errorf("CannotStartContainerError: %v", err)
		}
		if now, err := r.a.rt.Inspect(ctx, st.ID); err == nil {
			r.observed[name] = now
		}
	}
	return nil
}

// dependenciesMet checks a container's dependsOn conditions; an error means
// one can never be met.
func (r *taskRunner) dependenciesMet(c *wire.ContainerDefinition) (bool, error) {
	for _, d := range c.DependsOn {
		dep := ptr.Deref(d.ContainerName)
		st, ok := r.observed[dep]
		if !ok {
			return false, nil
		}
		switch d.Condition {
		case wire.ContainerConditionStart:
			if st.StartedAt.IsZero() && st.Status != StatusRunning {
				return false, nil
			}
		case wire.ContainerConditionComplete:
			if !exited(st) {
				return false, nil
			}
		case wire.ContainerConditionSuccess:
			if !exited(st) {
				return false, nil
			}
			if st.ExitCode != 0 {
				return false, fmt.Errorf("DependencyError: container %s exited with code %d, and %s needs it to succeed", dep, st.ExitCode, ptr.Deref(c.Name))
			}
		case wire.ContainerConditionHealthy:
			if exited(st) {
				return false, fmt.Errorf("DependencyError: container %s exited before it was healthy", dep)
			}
			if st.Health != HealthHealthy {
				return false, nil
			}
		}
	}
	return true, nil
}

// reportProgress reports RUNNING once every essential container runs, and
// any container whose reported status is behind what is observed.
func (r *taskRunner) reportProgress() {
	allEssential := true
	changed := false
	for i := range r.def.ContainerDefinitions {
		c := &r.def.ContainerDefinitions[i]
		name := ptr.Deref(c.Name)
		st, ok := r.observed[name]
		want := flotilla.ContainerPending
		switch {
		case ok && st.Status == StatusRunning:
			want = flotilla.ContainerRunning
		case ok && exited(st):
			want = flotilla.ContainerStopped
		}
		if essential(c) && want != flotilla.ContainerRunning {
			allEssential = false
		}
		if want != flotilla.ContainerPending && r.record(name).Status != want {
			changed = true
		}
	}
	status := r.status()
	if allEssential && !flotilla.TaskStatusAfter(status, flotilla.TaskActivating) {
		r.report(flotilla.TaskRunning, "", nil)
		return
	}
	if changed && flotilla.TaskStatusAfter(status, flotilla.TaskPending) {
		r.report(status, "", nil)
	}
}

// stop stops the containers in reverse dependency order, keeps their logs,
// and reports the task STOPPED.
func (r *taskRunner) stop(ctx context.Context) {
	r.mu.Lock()
	reason := r.stopWhy
	r.mu.Unlock()
	r.report(flotilla.TaskDeactivating, reason, nil)
	r.report(flotilla.TaskStopping, reason, nil)
	order := r.createOrder()
	for i := len(order) - 1; i >= 0; i-- {
		c := order[i]
		rec := r.record(ptr.Deref(c.Name))
		if rec.RuntimeID == "" {
			continue
		}
		if err := r.a.rt.Stop(ctx, rec.RuntimeID, stopTimeout(c)); err != nil && !errors.Is(err, ErrNoSuchContainer) {
			if ctx.Err() != nil {
				return
			}
			r.a.log.Warn("stop container", "task", r.ts.ARN, "container", ptr.Deref(c.Name), "err", err)
		}
	}
	r.report(flotilla.TaskDeprovisioning, reason, nil)
	r.observe(ctx)
	if ctx.Err() != nil {
		return
	}
	r.keepLogs(ctx)
	now := time.Now().UTC()
	r.report(flotilla.TaskStopped, reason, func(in *wire.SubmitTaskStateChangeRequest) {
		in.ExecutionStoppedAt = &model.Time{Time: now}
		for i := range in.Containers {
			in.Containers[i].Status = ptr.To(flotilla.ContainerStopped)
		}
	}, func(*State) { r.ts.Done, r.ts.StoppedAt = true, now })
}

// keepLogs copies each container's output to the agent's data dir.
func (r *taskRunner) keepLogs(ctx context.Context) {
	dir := filepath.Join(r.a.cfg.DataDir, "logs", r.id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	for i := range r.def.ContainerDefinitions {
		name := ptr.Deref(r.def.ContainerDefinitions[i].Name)
		rec := r.record(name)
		if rec.RuntimeID == "" {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = r.a.rt.Logs(lctx, rec.RuntimeID, f, false)
		cancel()
		f.Close()
	}
}

// report queues a task state change with the containers' current state and
// records status as reported; also runs in the same state update.
func (r *taskRunner) report(status, reason string, edit func(*wire.SubmitTaskStateChangeRequest), also ...func(*State)) {
	in := &wire.SubmitTaskStateChangeRequest{Cluster: ptr.To(r.a.clusterARN), Task: ptr.To(r.ts.ARN), Status: ptr.To(status)}
	if reason != "" {
		in.Reason = ptr.To(reason)
	}
	recs := map[string]ContainerRecord{}
	for i := range r.def.ContainerDefinitions {
		c := &r.def.ContainerDefinitions[i]
		name := ptr.Deref(c.Name)
		rec := r.record(name)
		st, ok := r.observed[name]
		cs := wire.ContainerStateChange{ContainerName: ptr.To(name)}
		switch {
		case ok && st.Status == StatusRunning:
			rec.Status = flotilla.ContainerRunning
			for _, p := range st.Ports {
				cs.NetworkBindings = append(cs.NetworkBindings, wire.NetworkBinding{BindIP: ptr.To(bindIP(p.HostIP)),
					ContainerPort: ptr.To(int32(p.ContainerPort)), HostPort: ptr.To(int32(p.HostPort)), Protocol: wire.TransportProtocol(p.Protocol)})
			}
		case ok && exited(st):
			rec.Status = flotilla.ContainerStopped
			if st.Error == "container vanished" {
				rec.Reason = "The container was removed while the agent was not watching"
			} else {
				code := st.ExitCode
				rec.ExitCode = &code
				if st.OOMKilled {
					rec.Reason = "OutOfMemoryError: Container killed due to memory usage"
				} else if st.Error != "" {
					rec.Reason = st.Error
				}
			}
		case status == flotilla.TaskStopped:
			rec.Status = flotilla.ContainerStopped
			if rec.Reason == "" && reason != "" && rec.RuntimeID == "" {
				rec.Reason = reason
			}
		default:
			if rec.Status == "" {
				rec.Status = flotilla.ContainerPending
			}
		}
		cs.Status = ptr.To(rec.Status)
		if rec.RuntimeID != "" {
			cs.RuntimeId = ptr.To(rec.RuntimeID)
		}
		if rec.ExitCode != nil {
			cs.ExitCode = ptr.To(int32(*rec.ExitCode))
		}
		if rec.Reason != "" {
			cs.Reason = ptr.To(rec.Reason)
		}
		recs[name] = rec
		in.Containers = append(in.Containers, cs)
	}
	if edit != nil {
		edit(in)
	}
	err := r.a.reporter.enqueue(in, func(s *State) {
		r.ts.Status = status
		for name, rec := range recs {
			if p := r.ts.Containers[name]; p != nil {
				*p = rec
			}
		}
		for _, f := range also {
			f(s)
		}
	})
	if err != nil {
		r.a.log.Error("queue state change", "task", r.ts.ARN, "err", err)
	}
}

func bindIP(ip string) string {
	if ip == "" {
		return "0.0.0.0"
	}
	return ip
}
