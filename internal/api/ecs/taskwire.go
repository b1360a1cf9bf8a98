package ecs

import (
	"strconv"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
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
		TaskArn: ptr.To(t.ARN), ClusterArn: ptr.To(s.acct.ClusterARN(t.Cluster)), TaskDefinitionArn: ptr.To(t.TaskDefinitionARN),
		ContainerInstanceArn: ptr.To(t.InstanceARN), LastStatus: ptr.To(t.LastStatus), DesiredStatus: ptr.To(t.DesiredStatus),
		LaunchType: wire.LaunchTypeEc2, Cpu: ptr.To(t.CPU), Memory: ptr.To(t.Memory), Version: ptr.To(t.Version),
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
		w.Group = ptr.To(t.Group)
	}
	if t.StartedBy != "" {
		w.StartedBy = ptr.To(t.StartedBy)
	}
	if t.StopCode != "" {
		w.StopCode = wire.TaskStopCode(t.StopCode)
		w.StoppedReason = ptr.To(t.StoppedReason)
	}
	if !t.StartedAt.IsZero() {
		w.ConnectivityAt = model.NewTime(t.StartedAt)
		w.Connectivity = wire.ConnectivityConnected
	}
	for _, c := range t.Containers {
		wc := wire.Container{
			ContainerArn: ptr.To(c.ARN), TaskArn: ptr.To(t.ARN), Name: ptr.To(c.Name), Image: ptr.To(c.Image),
			LastStatus: ptr.To(c.LastStatus), Cpu: ptr.To(strconv.Itoa(c.CPU)), NetworkBindings: []wire.NetworkBinding{},
			NetworkInterfaces: []wire.NetworkInterface{},
		}
		if c.RuntimeID != "" {
			wc.RuntimeId = ptr.To(c.RuntimeID)
		}
		if c.ExitCode != nil {
			wc.ExitCode = ptr.To(int32(*c.ExitCode))
		}
		if c.Reason != "" {
			wc.Reason = ptr.To(c.Reason)
		}
		if c.Memory > 0 {
			wc.Memory = ptr.To(strconv.Itoa(c.Memory))
		}
		if c.MemoryReservation > 0 {
			wc.MemoryReservation = ptr.To(strconv.Itoa(c.MemoryReservation))
		}
		if c.HealthStatus != "" {
			wc.HealthStatus = wire.HealthStatus(c.HealthStatus)
		}
		for _, b := range c.NetworkBindings {
			wc.NetworkBindings = append(wc.NetworkBindings, wire.NetworkBinding{BindIP: ptr.To(b.BindIP),
				ContainerPort: ptr.To(int32(b.ContainerPort)), HostPort: ptr.To(int32(b.HostPort)), Protocol: wire.TransportProtocol(b.Protocol)})
		}
		w.Containers = append(w.Containers, wc)
	}
	if withTags {
		w.Tags = tagsToWire(t.Tags)
	}
	return w
}
