package flotilla

import (
	"reflect"
	"testing"
	"time"
)

var (
	t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 = t0.Add(time.Minute)
)

func intp(v int) *int { return &v }

// lifecycleTask is a task of two containers, web (essential) and sidecar,
// in status last, desired RUNNING.
func lifecycleTask(last string) Task {
	return Task{
		LastStatus: last, DesiredStatus: TaskRunning, HealthStatus: HealthUnknown,
		Containers: []TaskContainer{
			{Name: "web", LastStatus: ContainerRunning, Essential: true},
			{Name: "sidecar", LastStatus: ContainerPending},
		},
	}
}

func TestTaskRequestStop(t *testing.T) {
	withTargets := func(last string) Task {
		tk := lifecycleTask(last)
		tk.Targets = []TaskTarget{{TargetGroupARN: "tg", ID: "i-1", Port: 32768}}
		return tk
	}
	alreadyStopping := lifecycleTask(TaskRunning)
	alreadyStopping.DesiredStatus, alreadyStopping.StopCode, alreadyStopping.StoppedReason, alreadyStopping.StoppingAt = TaskStopped, StopUserInitiated, "first", t0
	cases := []struct {
		name string
		task Task
		want func(*Task)
	}{
		{"running task stops", lifecycleTask(TaskRunning), func(w *Task) {
			w.DesiredStatus, w.StopCode, w.StoppedReason, w.StoppingAt = TaskStopped, StopServiceSchedulerInit, "scale in", t1
		}},
		{"running task with targets deactivates first", withTargets(TaskRunning), func(w *Task) {
			w.DesiredStatus, w.StopCode, w.StoppedReason, w.StoppingAt = TaskStopped, StopServiceSchedulerInit, "scale in", t1
			w.LastStatus = TaskDeactivating
		}},
		{"pending task with targets does not deactivate", withTargets(TaskPending), func(w *Task) {
			w.DesiredStatus, w.StopCode, w.StoppedReason, w.StoppingAt = TaskStopped, StopServiceSchedulerInit, "scale in", t1
		}},
		{"a second request keeps the first", alreadyStopping, func(*Task) {}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, want := c.task, c.task
			got.Containers, want.Containers = clone(c.task.Containers), clone(c.task.Containers)
			c.want(&want)
			got.RequestStop(StopServiceSchedulerInit, "scale in", t1)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("RequestStop:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func clone[T any](s []T) []T { return append([]T(nil), s...) }

func TestTaskAdvance(t *testing.T) {
	started := lifecycleTask(TaskRunning)
	started.StartedAt = t0
	stopAsked := started
	stopAsked.DesiredStatus, stopAsked.StopCode, stopAsked.StoppedReason, stopAsked.StoppingAt = TaskStopped, StopUserInitiated, "by hand", t0
	execStopped := stopAsked
	execStopped.LastStatus, execStopped.ExecutionStoppedAt = TaskStopping, t0
	cases := []struct {
		name           string
		task           Task
		status, reason string
		want           func(*Task)
	}{
		{"never back", started, TaskPending, "", func(*Task) {}},
		{"not to the same status", started, TaskRunning, "", func(*Task) {}},
		{"RUNNING stamps startedAt", lifecycleTask(TaskPending), TaskRunning, "", func(w *Task) {
			w.LastStatus, w.StartedAt = TaskRunning, t1
		}},
		{"an essential container exits", started, TaskStopping, "", func(w *Task) {
			w.LastStatus, w.DesiredStatus, w.StoppingAt = TaskStopping, TaskStopped, t1
			w.StopCode, w.StoppedReason = StopEssentialContainerExited, "Essential container in task exited"
		}},
		{"a task that never ran failed to start, with the agent's reason", lifecycleTask(TaskPending), TaskStopped, "CannotPullContainerError", func(w *Task) {
			w.LastStatus, w.DesiredStatus, w.StoppingAt, w.StoppedAt, w.ExecutionStoppedAt = TaskStopped, TaskStopped, t1, t1, t1
			w.StopCode, w.StoppedReason = StopTaskFailedToStart, "CannotPullContainerError"
			w.Containers[0].LastStatus, w.Containers[1].LastStatus = ContainerStopped, ContainerStopped
		}},
		{"a requested stop keeps its code, reason and times", execStopped, TaskStopped, "ignored", func(w *Task) {
			w.LastStatus, w.StoppedAt = TaskStopped, t1
			w.Containers[0].LastStatus, w.Containers[1].LastStatus = ContainerStopped, ContainerStopped
		}},
		{"STOPPED clears the health", func() Task { tk := started; tk.HealthStatus = HealthHealthy; return tk }(), TaskStopped, "", func(w *Task) {
			w.LastStatus, w.DesiredStatus, w.StoppingAt, w.StoppedAt, w.ExecutionStoppedAt = TaskStopped, TaskStopped, t1, t1, t1
			w.StopCode, w.StoppedReason = StopEssentialContainerExited, "Essential container in task exited"
			w.Containers[0].LastStatus, w.Containers[1].LastStatus = ContainerStopped, ContainerStopped
			w.HealthStatus = HealthUnknown
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, want := c.task, c.task
			got.Containers, want.Containers = clone(c.task.Containers), clone(c.task.Containers)
			c.want(&want)
			got.Advance(c.status, c.reason, t1)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Advance(%s, %q):\n got %+v\nwant %+v", c.status, c.reason, got, want)
			}
		})
	}
}

func TestTaskStopLost(t *testing.T) {
	got := lifecycleTask(TaskRunning)
	got.StartedAt = t0
	got.Containers[1].Reason = "its own"
	got.StopLost(StopServiceSchedulerInit, "instance lost", t1)
	want := lifecycleTask(TaskStopped)
	want.StartedAt, want.DesiredStatus, want.StoppingAt, want.StoppedAt, want.ExecutionStoppedAt = t0, TaskStopped, t1, t1, t1
	want.StopCode, want.StoppedReason = StopServiceSchedulerInit, "instance lost"
	want.Containers[0].LastStatus, want.Containers[0].Reason = ContainerStopped, "instance lost"
	want.Containers[1].LastStatus, want.Containers[1].Reason = ContainerStopped, "its own"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("StopLost:\n got %+v\nwant %+v", got, want)
	}
}

func TestTaskFinishDeactivation(t *testing.T) {
	for _, c := range []struct{ from, want string }{
		{TaskDeactivating, TaskStopping}, {TaskRunning, TaskRunning}, {TaskStopped, TaskStopped},
	} {
		tk := lifecycleTask(c.from)
		tk.FinishDeactivation()
		if tk.LastStatus != c.want {
			t.Errorf("FinishDeactivation from %s = %s, want %s", c.from, tk.LastStatus, c.want)
		}
	}
}

func TestTaskApplyContainerChange(t *testing.T) {
	binding := []NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 32768, Protocol: "tcp"}}
	cases := []struct {
		name   string
		change ContainerStateChange
		want   func(*Task)
	}{
		{"everything reported", ContainerStateChange{Name: "sidecar", RuntimeID: "abc", Status: ContainerRunning, ExitCode: intp(0), Reason: "ok", NetworkBindings: binding},
			func(w *Task) {
				c := &w.Containers[1]
				c.RuntimeID, c.LastStatus, c.ExitCode, c.Reason, c.NetworkBindings = "abc", ContainerRunning, intp(0), "ok", binding
			}},
		{"status never back, empty fields say nothing", ContainerStateChange{Name: "web", Status: ContainerPending}, func(*Task) {}},
		{"STOPPED clears the health", ContainerStateChange{Name: "web", Status: ContainerStopped, ExitCode: intp(137)}, func(w *Task) {
			w.Containers[0].LastStatus, w.Containers[0].ExitCode, w.Containers[0].HealthStatus = ContainerStopped, intp(137), HealthUnknown
		}},
		{"unknown container", ContainerStateChange{Name: "nope", Status: ContainerStopped}, func(*Task) {}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := lifecycleTask(TaskRunning)
			base.Containers[0].HealthStatus, base.Containers[0].RuntimeID = HealthHealthy, "old"
			got, want := base, base
			got.Containers, want.Containers = clone(base.Containers), clone(base.Containers)
			c.want(&want)
			got.ApplyContainerChange(c.change)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ApplyContainerChange(%+v):\n got %+v\nwant %+v", c.change, got.Containers, want.Containers)
			}
		})
	}
}

func TestTaskApplyStateChange(t *testing.T) {
	got := lifecycleTask(TaskPending)
	got.PullStartedAt = t0
	got.ApplyStateChange(TaskStateChange{Status: TaskRunning, PullStartedAt: t1, PullStoppedAt: t1,
		Containers: []ContainerStateChange{{Name: "sidecar", Status: ContainerRunning}}}, t1)
	want := lifecycleTask(TaskRunning)
	want.PullStartedAt, want.PullStoppedAt, want.StartedAt = t0, t1, t1 // a time is recorded once
	want.Containers[1].LastStatus = ContainerRunning
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ApplyStateChange:\n got %+v\nwant %+v", got, want)
	}
	noStatus := got
	noStatus.ApplyStateChange(TaskStateChange{ExecutionStoppedAt: t1}, t1)
	if noStatus.LastStatus != TaskRunning || !noStatus.ExecutionStoppedAt.Equal(t1) {
		t.Errorf("ApplyStateChange without a status: %s, executionStoppedAt %v", noStatus.LastStatus, noStatus.ExecutionStoppedAt)
	}
}

func TestTaskHealth(t *testing.T) {
	cases := []struct {
		name      string
		last      string
		web, side string // health of the essential and the non-essential container
		want      string
	}{
		{name: "no health checks", last: TaskRunning, want: HealthUnknown},
		{name: "essential healthy", last: TaskRunning, web: HealthHealthy, want: HealthHealthy},
		{name: "essential unknown", last: TaskRunning, web: HealthUnknown, want: HealthUnknown},
		{name: "essential unhealthy", last: TaskRunning, web: HealthUnhealthy, want: HealthUnhealthy},
		{name: "non-essential does not count", last: TaskRunning, web: HealthHealthy, side: HealthUnhealthy, want: HealthHealthy},
		{name: "only a non-essential check", last: TaskRunning, side: HealthHealthy, want: HealthUnknown},
		{name: "stopped", last: TaskStopped, web: HealthHealthy, want: HealthUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tk := lifecycleTask(c.last)
			tk.Containers[0].HealthStatus, tk.Containers[1].HealthStatus = c.web, c.side
			if got := tk.Health(); got != c.want {
				t.Errorf("Health() = %s, want %s", got, c.want)
			}
		})
	}
}

func TestTaskSetContainerHealth(t *testing.T) {
	tk := lifecycleTask(TaskRunning)
	tk.Containers = append(tk.Containers, TaskContainer{Name: "done", LastStatus: ContainerStopped, Essential: true, HealthStatus: HealthUnknown})
	tk.SetContainerHealth(map[string]string{"web": HealthHealthy, "done": HealthUnhealthy, "nope": HealthUnhealthy})
	if tk.Containers[0].HealthStatus != HealthHealthy || tk.Containers[2].HealthStatus != HealthUnknown {
		t.Errorf("containers' health = %s, %s; want HEALTHY, UNKNOWN (a STOPPED container keeps UNKNOWN)", tk.Containers[0].HealthStatus, tk.Containers[2].HealthStatus)
	}
	if tk.HealthStatus != HealthUnknown {
		t.Errorf("task health = %s, want UNKNOWN (an essential container is UNKNOWN)", tk.HealthStatus)
	}
	tk.Containers[2].Essential = false
	tk.SetContainerHealth(nil)
	if tk.HealthStatus != HealthHealthy {
		t.Errorf("task health = %s, want HEALTHY", tk.HealthStatus)
	}
}

func TestContainerInstanceMoveTask(t *testing.T) {
	res := Reservation{CPU: 256, MemoryMiB: 512, Ports: []string{"8080"}}
	cases := []struct {
		before, after    string
		pending, running int32
		released         bool
	}{
		{TaskProvisioning, TaskPending, 2, 3, false},
		{TaskPending, TaskRunning, 1, 4, false},
		{TaskActivating, TaskRunning, 1, 4, false},
		{TaskRunning, TaskDeactivating, 2, 3, false},
		{TaskRunning, TaskStopped, 2, 2, true},
		{TaskPending, TaskStopped, 1, 3, true},
		{TaskStopping, TaskStopped, 2, 2, true},
	}
	for _, c := range cases {
		t.Run(c.before+"→"+c.after, func(t *testing.T) {
			ci := ContainerInstance{PendingTasksCount: 2, RunningTasksCount: 3, RemainingResources: []Resource{
				{Name: "CPU", Type: "INTEGER", IntegerValue: 768}, {Name: "MEMORY", Type: "INTEGER", IntegerValue: 1024},
				{Name: "PORTS", Type: "STRINGSET", StringSetValue: []string{"22", "8080"}},
			}}
			tk := Task{LastStatus: c.after, Reservation: res}
			ci.MoveTask(c.before, &tk)
			if ci.PendingTasksCount != c.pending || ci.RunningTasksCount != c.running {
				t.Errorf("counts = %d pending, %d running; want %d, %d", ci.PendingTasksCount, ci.RunningTasksCount, c.pending, c.running)
			}
			if released := ci.RemainingResources[0].IntegerValue == 1024; released != c.released {
				t.Errorf("reservation released = %v, want %v (%+v)", released, c.released, ci.RemainingResources)
			}
		})
	}
	t.Run("never below zero", func(t *testing.T) {
		var ci ContainerInstance
		ci.MoveTask(TaskRunning, &Task{LastStatus: TaskStopped})
		ci.MoveTask(TaskPending, &Task{LastStatus: TaskRunning})
		if ci.PendingTasksCount != 0 || ci.RunningTasksCount != 1 {
			t.Errorf("counts = %d pending, %d running; want 0, 1", ci.PendingTasksCount, ci.RunningTasksCount)
		}
	})
}

func TestTaskAgentDesiredStatus(t *testing.T) {
	for _, c := range []struct{ last, desired, want string }{
		{TaskRunning, TaskRunning, TaskRunning},
		{TaskDeactivating, TaskStopped, TaskRunning}, // its targets drain first
		{TaskStopping, TaskStopped, TaskStopped},
		{TaskPending, TaskStopped, TaskStopped},
	} {
		tk := Task{LastStatus: c.last, DesiredStatus: c.desired}
		if got := tk.AgentDesiredStatus(); got != c.want {
			t.Errorf("AgentDesiredStatus of a %s task desired %s = %s, want %s", c.last, c.desired, got, c.want)
		}
	}
}

func TestContainerInstanceReaccount(t *testing.T) {
	ci := ContainerInstance{ID: "i-1", PendingTasksCount: 7, RunningTasksCount: 9,
		RegisteredResources: []Resource{{Name: "CPU", Type: "INTEGER", IntegerValue: 2048}, {Name: "MEMORY", Type: "INTEGER", IntegerValue: 4096},
			{Name: "PORTS", Type: "STRINGSET", StringSetValue: []string{"22"}}}}
	res := Reservation{CPU: 256, MemoryMiB: 512, Ports: []string{"80"}}
	tasks := []Task{
		{InstanceID: "i-1", LastStatus: TaskPending, Reservation: res},
		{InstanceID: "i-1", LastStatus: TaskRunning, Reservation: Reservation{CPU: 512, MemoryMiB: 1024}},
		{InstanceID: "i-1", LastStatus: TaskDeactivating, Reservation: Reservation{CPU: 128}},
		{InstanceID: "i-1", LastStatus: TaskStopped, Reservation: Reservation{CPU: 1000}},
		{InstanceID: "i-2", LastStatus: TaskRunning, Reservation: Reservation{CPU: 1000}},
	}
	ci.Reaccount(tasks)
	if ci.PendingTasksCount != 1 || ci.RunningTasksCount != 2 {
		t.Errorf("counts = %d pending, %d running; want 1, 2", ci.PendingTasksCount, ci.RunningTasksCount)
	}
	want := []Resource{{Name: "CPU", Type: "INTEGER", IntegerValue: 2048 - 256 - 512 - 128}, {Name: "MEMORY", Type: "INTEGER", IntegerValue: 4096 - 512 - 1024},
		{Name: "PORTS", Type: "STRINGSET", StringSetValue: []string{"22", "80"}}, {Name: "PORTS_UDP", Type: "STRINGSET", StringSetValue: []string{}}}
	if !reflect.DeepEqual(ci.RemainingResources, want) {
		t.Errorf("remaining = %+v\nwant %+v", ci.RemainingResources, want)
	}
	if got := ci.RegisteredResources[2].StringSetValue; !reflect.DeepEqual(got, []string{"22"}) {
		t.Errorf("registered ports changed to %q", got)
	}
}
