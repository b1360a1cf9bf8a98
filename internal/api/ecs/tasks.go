package ecs

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// maxPlaceAttempts bounds the retries of a placement that lost a
// compare-and-swap race on an instance.
const maxPlaceAttempts = 20

// RunTask places count tasks of a task definition on the cluster's
// instances, first fit on resources and ports.
func (s *Service) RunTask(ctx context.Context, in *wire.RunTaskRequest) (*wire.RunTaskResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	count := 1
	if in.Count != nil {
		count = int(*in.Count)
	}
	if count < 1 || count > 10 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "count must be between 1 and 10.")
	}
	req, err := s.newTaskRequest(ctx, cluster, ptr.Deref(in.TaskDefinition), in.LaunchType, in.Overrides, ptr.Deref(in.Group), ptr.Deref(in.StartedBy), in.Tags, in.NetworkConfiguration)
	if err != nil {
		return nil, err
	}
	token := ptr.Deref(in.ClientToken)
	if token != "" {
		if len(token) > 64 {
			return nil, flotilla.Errorf(flotilla.EInvalid, "clientToken must be at most 64 characters.")
		}
		if out, err := s.replayRunTask(ctx, cluster, token, requestHash(in)); out != nil || err != nil {
			return out, err
		}
	}
	plan, err := placementPlan(req.td, placementConstraintsFromWire(in.PlacementConstraints), placementStrategiesFromWire(in.PlacementStrategy))
	if err != nil {
		return nil, err
	}
	tasks, failures, err := s.place(ctx, req, plan, count, nil, token, requestHash(in))
	if err != nil {
		if errors.Is(err, errTokenRace) {
			return s.replayRunTask(ctx, cluster, token, requestHash(in))
		}
		return nil, err
	}
	return &wire.RunTaskResponse{Tasks: s.tasksToWire(tasks, false), Failures: failures}, nil
}

// StartTask starts one task on each named container instance.
func (s *Service) StartTask(ctx context.Context, in *wire.StartTaskRequest) (*wire.StartTaskResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if len(in.ContainerInstances) == 0 || len(in.ContainerInstances) > 10 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "containerInstances must contain between 1 and 10 items.")
	}
	req, err := s.newTaskRequest(ctx, cluster, ptr.Deref(in.TaskDefinition), "", in.Overrides, ptr.Deref(in.Group), ptr.Deref(in.StartedBy), in.Tags, in.NetworkConfiguration)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, ref := range in.ContainerInstances {
		c, id, err := s.instanceRef(cluster, ref)
		if err != nil {
			return nil, err
		}
		if c != cluster {
			return nil, flotilla.Errorf(flotilla.EInvalid, "Container instance %s is not in cluster %s.", ref, cluster)
		}
		ids = append(ids, id)
	}
	tasks, failures, err := s.place(ctx, req, nil, len(ids), ids, "", "")
	if err != nil {
		return nil, err
	}
	return &wire.StartTaskResponse{Tasks: s.tasksToWire(tasks, false), Failures: failures}, nil
}

// StopTask asks for a task to stop; the agent stops its containers and
// reports it STOPPED.
func (s *Service) StopTask(ctx context.Context, in *wire.StopTaskRequest) (*wire.StopTaskResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	reason := ptr.Deref(in.Reason)
	if utf8.RuneCountInString(reason) > 255 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "reason must be at most 255 characters.")
	}
	if reason == "" {
		reason = "Task stopped by user"
	}
	t, err := s.updateTask(ctx, cluster, ptr.Deref(in.Task), func(t *flotilla.Task) error {
		t.RequestStop(flotilla.StopUserInitiated, reason, s.now())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.StopTaskResponse{Task: s.taskToWire(t, false)}, nil
}

// DescribeTasks describes tasks by id or ARN.
func (s *Service) DescribeTasks(ctx context.Context, in *wire.DescribeTasksRequest) (*wire.DescribeTasksResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if len(in.Tasks) > 100 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "tasks can have at most 100 items.")
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	withTags := hasInclude(in.Include, wire.TaskFieldTags)
	tasks, failures, err := describe(in.Tasks,
		func(ref string) (*flotilla.Task, error) { t, _, err := s.getTask(ctx, cluster, ref); return t, err },
		func(ref string) string {
			return arnOr(ref, func(id string) string { return s.acct.TaskARN(cluster, id) })
		},
		func(t *flotilla.Task) wire.Task { return *s.taskToWire(t, withTags) })
	if err != nil {
		return nil, err
	}
	return &wire.DescribeTasksResponse{Tasks: tasks, Failures: failures}, nil
}

// ListTasks lists task ARNs with ECS's filters; desiredStatus defaults to
// RUNNING.
func (s *Service) ListTasks(ctx context.Context, in *wire.ListTasksRequest) (*wire.ListTasksResponse, error) {
	cluster, p, err := s.clusterPage(ctx, in.Cluster, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	if in.LaunchType == wire.LaunchTypeFargate {
		return &wire.ListTasksResponse{TaskArns: []string{}}, nil
	}
	desired := string(in.DesiredStatus)
	if desired == "" {
		desired = flotilla.TaskRunning
	}
	if desired == "PENDING" {
		desired = flotilla.TaskRunning // PENDING is accepted and means not yet STOPPED
	}
	instanceID := ""
	if ref := ptr.Deref(in.ContainerInstance); ref != "" {
		_, id, err := s.instanceRef(cluster, ref)
		if err != nil {
			return nil, err
		}
		instanceID = id
	}
	family := ptr.Deref(in.Family)
	items, _, err := store.ListJSON[flotilla.Task](ctx, s.store, flotilla.ClusterTasksPrefix(cluster), store.ListOptions{})
	if err != nil {
		return nil, err
	}
	var keep []flotilla.Task
	for _, it := range items {
		t := it.Value
		switch {
		case t.DesiredStatus != desired:
		case instanceID != "" && t.InstanceID != instanceID:
		case family != "" && t.Family != family:
		case in.StartedBy != nil && t.StartedBy != *in.StartedBy:
		case in.ServiceName != nil && t.Group != "service:"+*in.ServiceName:
		default:
			keep = append(keep, t)
		}
	}
	pageItems, next := paginate(keep, func(t flotilla.Task) string { return t.ID }, p)
	out := &wire.ListTasksResponse{TaskArns: []string{}, NextToken: next}
	for _, t := range pageItems {
		out.TaskArns = append(out.TaskArns, t.ARN)
	}
	return out, nil
}

// taskRef resolves a task id or ARN to its cluster and id.
func (s *Service) taskRef(cluster, ref string) (string, string, error) {
	if s.foreign(ref) {
		return "", "", flotilla.Errorf(flotilla.EInvalid, "The referenced task was not found.")
	}
	if p, ok := flotilla.ParseARN(ref); ok {
		if p.Type != "task" {
			return "", "", flotilla.Errorf(flotilla.EInvalid, "Invalid task ARN: %s", ref)
		}
		c, id, found := strings.Cut(p.Path, "/")
		if !found {
			id, c = c, cluster
		}
		return c, id, nil
	}
	if ref == "" || strings.ContainsAny(ref, "/:") {
		return "", "", flotilla.Errorf(flotilla.EInvalid, "Invalid task id: %q", ref)
	}
	return cluster, ref, nil
}

func (s *Service) getTask(ctx context.Context, cluster, ref string) (*flotilla.Task, int64, error) {
	c, id, err := s.taskRef(cluster, ref)
	if err != nil {
		return nil, 0, err
	}
	if c != cluster {
		return nil, 0, flotilla.Errorf(flotilla.EInvalid, "The referenced task was not found in cluster %s.", cluster)
	}
	t, rev, err := store.GetJSON[flotilla.Task](ctx, s.store, flotilla.TaskKey(cluster, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, flotilla.Errorf(flotilla.EInvalid, "The referenced task was not found.")
	}
	return t, rev, err
}

func (s *Service) updateTask(ctx context.Context, cluster, ref string, mutate func(*flotilla.Task) error) (*flotilla.Task, error) {
	c, id, err := s.taskRef(cluster, ref)
	if err != nil {
		return nil, err
	}
	if c != cluster {
		return nil, flotilla.Errorf(flotilla.EInvalid, "The referenced task was not found in cluster %s.", cluster)
	}
	return update(ctx, s.store, flotilla.TaskKey(cluster, id), func(t *flotilla.Task) error {
		if t == nil {
			return flotilla.Errorf(flotilla.EInvalid, "The referenced task was not found.")
		}
		return nil
	}, func(t *flotilla.Task) error {
		if err := mutate(t); err != nil {
			return err
		}
		t.Version++
		return nil
	})
}
