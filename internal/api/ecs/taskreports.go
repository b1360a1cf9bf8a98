package ecs

import (
	"context"
	"errors"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// SubmitTaskStateChange records what the agent reports of a task: its
// lifecycle status (only forward), pull and stop times, and its containers.
func (s *Service) SubmitTaskStateChange(ctx context.Context, in *wire.SubmitTaskStateChangeRequest) (*wire.SubmitTaskStateChangeResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	status := ptr.Deref(in.Status)
	if status != "" && !flotilla.ValidTaskStatus(status) {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Invalid task status %q.", status)
	}
	ch := flotilla.TaskStateChange{Status: status, Reason: ptr.Deref(in.Reason),
		PullStartedAt: wireTime(in.PullStartedAt), PullStoppedAt: wireTime(in.PullStoppedAt), ExecutionStoppedAt: wireTime(in.ExecutionStoppedAt)}
	for _, c := range in.Containers {
		ch.Containers = append(ch.Containers, containerChange(ptr.Deref(c.ContainerName), ptr.Deref(c.RuntimeId), ptr.Deref(c.Status), c.ExitCode, ptr.Deref(c.Reason), c.NetworkBindings))
	}
	_, err = s.changeTaskState(ctx, cluster, ptr.Deref(in.Task), func(t *flotilla.Task) { t.ApplyStateChange(ch, s.now()) })
	if err != nil {
		return nil, err
	}
	return &wire.SubmitTaskStateChangeResponse{Acknowledgment: ptr.To("true")}, nil
}

// SubmitContainerStateChange records what the agent reports of one
// container.
func (s *Service) SubmitContainerStateChange(ctx context.Context, in *wire.SubmitContainerStateChangeRequest) (*wire.SubmitContainerStateChangeResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	ch := containerChange(ptr.Deref(in.ContainerName), ptr.Deref(in.RuntimeId), ptr.Deref(in.Status), in.ExitCode, ptr.Deref(in.Reason), in.NetworkBindings)
	_, err = s.changeTaskState(ctx, cluster, ptr.Deref(in.Task), func(t *flotilla.Task) { t.ApplyContainerChange(ch) })
	if err != nil {
		return nil, err
	}
	return &wire.SubmitContainerStateChangeResponse{Acknowledgment: ptr.To("true")}, nil
}

// changeTaskState applies an agent's report to a task and, in the same
// transaction, moves the task's counts and reservation on its instance.
func (s *Service) changeTaskState(ctx context.Context, cluster, ref string, apply func(*flotilla.Task)) (*flotilla.Task, error) {
	for attempt := 0; ; attempt++ {
		t, trev, err := s.getTask(ctx, cluster, ref)
		if err != nil {
			return nil, err
		}
		if err := s.authorizeInstance(ctx, cluster, t.InstanceID); err != nil {
			return nil, err
		}
		before := t.LastStatus
		apply(t)
		t.Version++
		ops := []store.Op{putJSON(flotilla.TaskKey(cluster, t.ID), t)}
		cmps := []store.Compare{{Key: flotilla.TaskKey(cluster, t.ID), ModRevision: trev}}
		if before != t.LastStatus {
			ci, irev, err := store.GetJSON[flotilla.ContainerInstance](ctx, s.store, flotilla.InstanceKey(cluster, t.InstanceID))
			if err == nil {
				ci.MoveTask(before, t)
				ci.Version++
				ops = append(ops, putJSON(flotilla.InstanceKey(cluster, t.InstanceID), ci))
				cmps = append(cmps, store.Compare{Key: flotilla.InstanceKey(cluster, t.InstanceID), ModRevision: irev})
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		_, err = s.store.Txn(ctx, store.Txn{Compares: cmps, Ops: ops})
		if errors.Is(err, store.ErrConflict) && attempt < maxPlaceAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		return t, nil
	}
}

// SetTaskHealth records the container health an agent reports and derives
// the task's (flotilla.Task.SetContainerHealth).
func (s *Service) SetTaskHealth(ctx context.Context, cluster, instanceID, taskARN string, health map[string]string) error {
	_, err := s.changeTaskState(ctx, cluster, taskARN, func(t *flotilla.Task) {
		if t.InstanceID != instanceID {
			return
		}
		t.SetContainerHealth(health)
	})
	return err
}
