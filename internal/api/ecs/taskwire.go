package ecs

import (
	"strconv"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
)

func (s *Service) tasksToWire(tasks []flotilla.Task, withTags bool) []wire.Task {
	out := make([]wire.Task, 0, len(tasks))
	for i := range tasks {
		out = append(out, *s.taskToWire(&tasks[i], withTags))
	}
	return out
}

func (s *Service) taskToWire(t *flotilla.Task, withTags bool) *wire.Task {
	w := &wire.Task{
		TaskArn: ptr(t.ARN), ClusterArn: ptr(s.acct.ClusterARN(t.Cluster)), TaskDefinitionArn: ptr(t.TaskDefinitionARN),
		ContainerInstanceArn: ptr(t.InstanceARN), LastStatus: ptr(t.LastStatus), DesiredStatus: ptr(t.DesiredStatus),
		LaunchType: wire.LaunchTypeEc2, Cpu: ptr(t.CPU), Memory: ptr(t.Memory), Version: ptr(t.Version),
		HealthStatus: wire.HealthStatus(t.HealthStatus), Attachments: []wire.Attachment{}, Attributes: []wire.Attribute{},
		CreatedAt: model.NewTime(t.CreatedAt), PullStartedAt: model.NewTime(t.PullStartedAt), PullStoppedAt: model.NewTime(t.PullStoppedAt),
		StartedAt: model.NewTime(t.StartedAt), StoppingAt: model.NewTime(t.StoppingAt), StoppedAt: model.NewTime(t.StoppedAt),
		ExecutionStoppedAt: model.NewTime(t.ExecutionStoppedAt), Containers: []wire.Container{},
		Overrides: fromRaw[*wire.TaskOverride](t.Overrides),
	}
	if w.Overrides == nil {
		w.Overrides = &wire.TaskOverride{ContainerOverrides: []wire.ContainerOverride{}}
	}
	if t.Group != "" {
		w.Group = ptr(t.Group)
	}
	if t.StartedBy != "" {
		w.StartedBy = ptr(t.StartedBy)
	}
	if t.StopCode != "" {
		w.StopCode = wire.TaskStopCode(t.StopCode)
		w.StoppedReason = ptr(t.StoppedReason)
	}
	if !t.StartedAt.IsZero() {
		w.ConnectivityAt = model.NewTime(t.StartedAt)
		w.Connectivity = wire.ConnectivityConnected
	}
	for _, c := range t.Containers {
		wc := wire.Container{
			ContainerArn: ptr(c.ARN), TaskArn: ptr(t.ARN), Name: ptr(c.Name), Image: ptr(c.Image),
			LastStatus: ptr(c.LastStatus), Cpu: ptr(strconv.Itoa(c.CPU)), NetworkBindings: []wire.NetworkBinding{},
			NetworkInterfaces: []wire.NetworkInterface{},
		}
		if c.RuntimeID != "" {
			wc.RuntimeId = ptr(c.RuntimeID)
		}
		if c.ExitCode != nil {
			wc.ExitCode = ptr(int32(*c.ExitCode))
		}
		if c.Reason != "" {
			wc.Reason = ptr(c.Reason)
		}
		if c.Memory > 0 {
			wc.Memory = ptr(strconv.Itoa(c.Memory))
		}
		if c.MemoryReservation > 0 {
			wc.MemoryReservation = ptr(strconv.Itoa(c.MemoryReservation))
		}
		if c.HealthStatus != "" {
			wc.HealthStatus = wire.HealthStatus(c.HealthStatus)
		}
		for _, b := range c.NetworkBindings {
			wc.NetworkBindings = append(wc.NetworkBindings, wire.NetworkBinding{BindIP: ptr(b.BindIP),
				ContainerPort: ptr(int32(b.ContainerPort)), HostPort: ptr(int32(b.HostPort)), Protocol: wire.TransportProtocol(b.Protocol)})
		}
		w.Containers = append(w.Containers, wc)
	}
	if withTags {
		w.Tags = tagsToWire(t.Tags)
	}
	return w
}
