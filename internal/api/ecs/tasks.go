package ecs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/scheduler"
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
	plan, err := placementPlan(req.td, in.PlacementConstraints, in.PlacementStrategy)
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
		s.requestStop(t, flotilla.StopUserInitiated, reason)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.StopTaskResponse{Task: s.taskToWire(t, false)}, nil
}

// requestStop sets a task's desired status to STOPPED, once.
func (s *Service) requestStop(t *flotilla.Task, code, reason string) {
	if t.DesiredStatus == flotilla.TaskStopped {
		return
	}
	t.DesiredStatus = flotilla.TaskStopped
	t.StopCode, t.StoppedReason = code, reason
	t.StoppingAt = s.now().UTC()
	// A running task behind a load balancer leaves it first: its agent
	// keeps it running while its targets drain, and the service
	// controller moves it on to STOPPING (FinishDeactivation).
	if len(t.Targets) > 0 && t.LastStatus == flotilla.TaskRunning {
		t.LastStatus = flotilla.TaskDeactivating
	}
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
	_, err = s.changeTaskState(ctx, cluster, ptr.Deref(in.Task), func(t *flotilla.Task) {
		for _, c := range in.Containers {
			applyContainerChange(t, ptr.Deref(c.ContainerName), ptr.Deref(c.RuntimeId), ptr.Deref(c.Status), c.ExitCode, ptr.Deref(c.Reason), c.NetworkBindings)
		}
		if in.PullStartedAt != nil && t.PullStartedAt.IsZero() {
			t.PullStartedAt = in.PullStartedAt.Time
		}
		if in.PullStoppedAt != nil && t.PullStoppedAt.IsZero() {
			t.PullStoppedAt = in.PullStoppedAt.Time
		}
		if in.ExecutionStoppedAt != nil && t.ExecutionStoppedAt.IsZero() {
			t.ExecutionStoppedAt = in.ExecutionStoppedAt.Time
		}
		if status != "" {
			s.advanceTask(t, status, ptr.Deref(in.Reason))
		}
	})
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
	_, err = s.changeTaskState(ctx, cluster, ptr.Deref(in.Task), func(t *flotilla.Task) {
		applyContainerChange(t, ptr.Deref(in.ContainerName), ptr.Deref(in.RuntimeId), ptr.Deref(in.Status), in.ExitCode, ptr.Deref(in.Reason), in.NetworkBindings)
	})
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
				moveCounts(ci, before, t)
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

// moveCounts updates an instance's pending/running counts and releases the
// task's reservation when it stops.
func moveCounts(ci *flotilla.ContainerInstance, before string, t *flotilla.Task) {
	bucket := func(st string) int {
		switch {
		case st == flotilla.TaskStopped:
			return 2
		case flotilla.TaskStatusAfter(st, flotilla.TaskActivating):
			return 1 // RUNNING and the stopping states count as running
		default:
			return 0
		}
	}
	from, to := bucket(before), bucket(t.LastStatus)
	if from == to {
		return
	}
	switch from {
	case 0:
		ci.PendingTasksCount--
	case 1:
		ci.RunningTasksCount--
	}
	switch to {
	case 0:
		ci.PendingTasksCount++
	case 1:
		ci.RunningTasksCount++
	case 2:
		ci.Release(t.Reservation)
	}
	ci.PendingTasksCount = max(ci.PendingTasksCount, 0)
	ci.RunningTasksCount = max(ci.RunningTasksCount, 0)
}

// advanceTask moves a task's lastStatus forward (never back) and stamps the
// lifecycle times.
func (s *Service) advanceTask(t *flotilla.Task, status, reason string) {
	if !flotilla.TaskStatusAfter(status, t.LastStatus) {
		return
	}
	now := s.now().UTC()
	t.LastStatus = status
	if status == flotilla.TaskRunning {
		t.StartedAt = now
	}
	if flotilla.TaskStatusAfter(status, flotilla.TaskRunning) {
		if t.DesiredStatus != flotilla.TaskStopped {
			// The task stops on its own: an essential container exited, or
			// it never started.
			code := flotilla.StopEssentialContainerExited
			if t.StartedAt.IsZero() {
				code = flotilla.StopTaskFailedToStart
			}
			if reason == "" {
				reason = "Essential container in task exited"
			}
			s.requestStop(t, code, reason)
		}
		if t.StoppingAt.IsZero() {
			t.StoppingAt = now
		}
	}
	if status == flotilla.TaskStopped {
		t.StoppedAt = now
		if t.ExecutionStoppedAt.IsZero() {
			t.ExecutionStoppedAt = now
		}
		for i := range t.Containers {
			if t.Containers[i].LastStatus != flotilla.ContainerStopped {
				t.Containers[i].LastStatus = flotilla.ContainerStopped
			}
		}
		t.HealthStatus = flotilla.HealthUnknown
	}
}

func applyContainerChange(t *flotilla.Task, name, runtimeID, status string, exitCode *int32, reason string, nb []wire.NetworkBinding) {
	for i := range t.Containers {
		c := &t.Containers[i]
		if c.Name != name {
			continue
		}
		if runtimeID != "" {
			c.RuntimeID = runtimeID
		}
		order := map[string]int{flotilla.ContainerPending: 1, flotilla.ContainerRunning: 2, flotilla.ContainerStopped: 3}
		if order[status] > order[c.LastStatus] {
			c.LastStatus = status
		}
		if exitCode != nil {
			v := int(*exitCode)
			c.ExitCode = &v
		}
		if reason != "" {
			c.Reason = reason
		}
		if len(nb) > 0 {
			c.NetworkBindings = nil
			for _, b := range nb {
				c.NetworkBindings = append(c.NetworkBindings, flotilla.NetworkBinding{
					BindIP: ptr.Deref(b.BindIP), ContainerPort: int(ptr.Deref(b.ContainerPort)), HostPort: int(ptr.Deref(b.HostPort)), Protocol: string(b.Protocol)})
			}
		}
		if c.LastStatus == flotilla.ContainerStopped {
			c.HealthStatus = flotilla.HealthUnknown
		}
		return
	}
}

// SetTaskHealth records the container health an agent reports and derives
// the task's: UNHEALTHY if an essential container is, HEALTHY if every
// essential container with a health check is, otherwise UNKNOWN.
func (s *Service) SetTaskHealth(ctx context.Context, cluster, instanceID, taskARN string, health map[string]string) error {
	_, err := s.changeTaskState(ctx, cluster, taskARN, func(t *flotilla.Task) {
		if t.InstanceID != instanceID {
			return
		}
		for i := range t.Containers {
			if h, ok := health[t.Containers[i].Name]; ok && t.Containers[i].LastStatus != flotilla.ContainerStopped {
				t.Containers[i].HealthStatus = h
			}
		}
		t.HealthStatus = taskHealth(t)
	})
	return err
}

func taskHealth(t *flotilla.Task) string {
	if t.LastStatus == flotilla.TaskStopped {
		return flotilla.HealthUnknown
	}
	status, checked := flotilla.HealthHealthy, false
	for _, c := range t.Containers {
		if !c.Essential || c.HealthStatus == "" {
			continue
		}
		checked = true
		switch c.HealthStatus {
		case flotilla.HealthUnhealthy:
			return flotilla.HealthUnhealthy
		case flotilla.HealthUnknown:
			status = flotilla.HealthUnknown
		}
	}
	if !checked {
		return flotilla.HealthUnknown
	}
	return status
}

// taskRequest is a validated request to start tasks of one definition.
type taskRequest struct {
	cluster    string
	def        *flotilla.TaskDefinition
	td         *wire.TaskDefinition
	overrides  *wire.TaskOverride
	group      string
	startedBy  string
	tags       []flotilla.Tag
	containers []flotilla.TaskContainer
	res        flotilla.Reservation
}

func (s *Service) newTaskRequest(ctx context.Context, cluster, tdRef string, launch wire.LaunchType, ov *wire.TaskOverride,
	group, startedBy string, tags []wire.Tag, netcfg *wire.NetworkConfiguration) (*taskRequest, error) {
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	if launch != "" && launch != wire.LaunchTypeEc2 && launch != wire.LaunchTypeExternal {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Launch type %s is not supported: Flotilla runs tasks on registered container instances (EC2 or EXTERNAL).", launch)
	}
	if utf8.RuneCountInString(startedBy) > 128 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "startedBy must be at most 128 characters.")
	}
	if utf8.RuneCountInString(group) > 255 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "group must be at most 255 characters.")
	}
	def, _, err := s.findTaskDefinition(ctx, tdRef)
	if err != nil {
		return nil, err
	}
	if def.Status != flotilla.TaskDefinitionActive {
		return nil, flotilla.Errorf(flotilla.EClient, "TaskDefinition is inactive")
	}
	td := taskDefToWire(def)
	if td.NetworkMode == wire.NetworkModeAwsvpc {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Network mode awsvpc is not supported by Flotilla's agent yet; use bridge, host or none.")
	}
	if netcfg != nil && netcfg.AwsvpcConfiguration != nil {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Network Configuration is not valid for the given networkMode of this task definition.")
	}
	ft := tagsFromWire(tags)
	if err := flotilla.ValidateTags(ft); err != nil {
		return nil, err
	}
	if group == "" {
		group = "family:" + def.Family
	}
	req := &taskRequest{cluster: cluster, def: def, td: td, overrides: ov, group: group, startedBy: startedBy, tags: ft}
	if err := req.resolve(); err != nil {
		return nil, err
	}
	return req, nil
}

// resolve computes the task's containers and its reservation from the
// definition and the overrides.
func (r *taskRequest) resolve() error {
	byName := map[string]wire.ContainerOverride{}
	if r.overrides != nil {
		for _, co := range r.overrides.ContainerOverrides {
			name := ptr.Deref(co.Name)
			if !slices.ContainsFunc(r.td.ContainerDefinitions, func(c wire.ContainerDefinition) bool { return ptr.Deref(c.Name) == name }) {
				return flotilla.Errorf(flotilla.EInvalid, "Override for container named %s is not a container in the TaskDefinition.", name)
			}
			byName[name] = co
		}
	}
	cpu, mem := 0, 0
	for _, c := range r.td.ContainerDefinitions {
		tc := flotilla.TaskContainer{Name: ptr.Deref(c.Name), Image: ptr.Deref(c.Image), LastStatus: flotilla.ContainerPending,
			Essential: c.Essential == nil || *c.Essential, CPU: int(ptr.Deref(c.Cpu)), Memory: int(ptr.Deref(c.Memory)), MemoryReservation: int(ptr.Deref(c.MemoryReservation))}
		if co, ok := byName[tc.Name]; ok {
			if co.Cpu != nil {
				tc.CPU = int(*co.Cpu)
			}
			if co.Memory != nil {
				tc.Memory = int(*co.Memory)
			}
			if co.MemoryReservation != nil {
				tc.MemoryReservation = int(*co.MemoryReservation)
			}
		}
		if tc.Memory > 0 && tc.MemoryReservation > tc.Memory {
			return flotilla.Errorf(flotilla.EInvalid, "Invalid memory override for container %s: memory must be at least memoryReservation.", tc.Name)
		}
		if tc.Essential && (c.HealthCheck != nil) {
			tc.HealthStatus = flotilla.HealthUnknown
		}
		cpu += tc.CPU
		if tc.MemoryReservation > 0 {
			mem += tc.MemoryReservation
		} else {
			mem += tc.Memory
		}
		for _, pm := range c.PortMappings {
			hp := int(ptr.Deref(pm.HostPort))
			if hp == 0 {
				continue
			}
			if pm.Protocol == wire.TransportProtocolUdp {
				r.res.UDPPorts = append(r.res.UDPPorts, strconv.Itoa(hp))
			} else {
				r.res.Ports = append(r.res.Ports, strconv.Itoa(hp))
			}
		}
		r.containers = append(r.containers, tc)
	}
	taskCPU, taskMem := ptr.Deref(r.td.Cpu), ptr.Deref(r.td.Memory)
	if r.overrides != nil {
		if v := ptr.Deref(r.overrides.Cpu); v != "" {
			taskCPU = v
		}
		if v := ptr.Deref(r.overrides.Memory); v != "" {
			taskMem = v
		}
	}
	if taskCPU != "" {
		v, err := flotilla.ParseTaskCPU(taskCPU)
		if err != nil {
			return err
		}
		cpu = v
	}
	if taskMem != "" {
		v, err := flotilla.ParseTaskMemory(taskMem)
		if err != nil {
			return err
		}
		mem = v
	}
	r.res.CPU, r.res.MemoryMiB = cpu, mem
	return nil
}

// newTask builds a task placed on ci.
func (s *Service) newTask(r *taskRequest, ci *flotilla.ContainerInstance) flotilla.Task {
	id := flotilla.NewID()
	t := flotilla.Task{
		ID: id, ARN: s.acct.TaskARN(r.cluster, id), Cluster: r.cluster,
		TaskDefinitionARN: r.def.ARN, Family: r.def.Family, Revision: r.def.Revision,
		InstanceID: ci.ID, InstanceARN: ci.ARN,
		LastStatus: flotilla.TaskProvisioning, DesiredStatus: flotilla.TaskRunning, LaunchType: "EC2",
		CPU: strconv.Itoa(r.res.CPU), Memory: strconv.Itoa(r.res.MemoryMiB),
		Containers: slices.Clone(r.containers), Overrides: rawJSON(r.overrides),
		Group: r.group, StartedBy: r.startedBy, Tags: r.tags, HealthStatus: flotilla.HealthUnknown,
		Reservation: r.res, Version: 1, CreatedAt: s.now().UTC(),
	}
	for i := range t.Containers {
		t.Containers[i].ARN = s.acct.ContainerARN(r.cluster, id, t.Containers[i].Name)
	}
	return t
}

var errTokenRace = errors.New("client token written concurrently")

// place puts count tasks on instances through the placer, by the plan's
// constraints and strategies (or one on each named instance, as StartTask
// does); the placer commits the tasks and the instances' reservations in one
// compare-and-swap transaction. With a client token, the token's record is
// created in the same transaction.
func (s *Service) place(ctx context.Context, r *taskRequest, plan *scheduler.Plan, count int, named []string, token, hash string) ([]flotilla.Task, []wire.Failure, error) {
	req := scheduler.PlaceRequest{
		Cluster: r.cluster, Plan: plan, Count: count, Named: named,
		Request: scheduler.Request{Group: r.group, Reservation: r.res},
		NewTask: func(ci *flotilla.ContainerInstance) flotilla.Task { return s.newTask(r, ci) },
	}
	if token != "" {
		req.Extra = func(tasks []flotilla.Task, failures []scheduler.Failure) store.Txn {
			rec := clientTokenRecord{Hash: hash}
			for _, t := range tasks {
				rec.TaskIDs = append(rec.TaskIDs, t.ID)
			}
			for _, f := range s.failuresToWire(r.cluster, failures) {
				rec.Failures = append(rec.Failures, failureRecord{Arn: ptr.Deref(f.Arn), Reason: ptr.Deref(f.Reason)})
			}
			return store.Txn{
				Compares: []store.Compare{{Key: clientTokenKey(r.cluster, token), ModRevision: 0}},
				Ops:      []store.Op{putJSON(clientTokenKey(r.cluster, token), rec)},
			}
		}
	}
	res, err := s.placer.Place(ctx, req)
	if errors.Is(err, store.ErrConflict) && token != "" {
		if _, _, terr := store.GetJSON[clientTokenRecord](ctx, s.store, clientTokenKey(r.cluster, token)); terr == nil {
			return nil, nil, errTokenRace
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return res.Tasks, s.failuresToWire(r.cluster, res.Failures), nil
}

// failuresToWire turns placement failures into RunTask's failures.
func (s *Service) failuresToWire(cluster string, fs []scheduler.Failure) []wire.Failure {
	out := []wire.Failure{}
	for _, f := range fs {
		arn := f.InstanceARN
		switch {
		case f.InstanceID == "" && f.Reason == scheduler.ReasonNoInstances:
			arn = s.acct.ClusterARN(cluster)
		case arn == "":
			arn = s.acct.ContainerInstanceARN(cluster, f.InstanceID)
		}
		out = append(out, wire.Failure{Arn: ptr.To(arn), Reason: ptr.To(f.Reason)})
	}
	return out
}

// placementPlan compiles the constraints of the task definition and of the
// request, and the request's strategies (random when none is given, as for
// ECS's standalone tasks).
func placementPlan(td *wire.TaskDefinition, constraints []wire.PlacementConstraint, strategies []wire.PlacementStrategy) (*scheduler.Plan, error) {
	var cs []scheduler.Constraint
	for _, c := range td.PlacementConstraints {
		cs = append(cs, scheduler.Constraint{Type: string(c.Type), Expression: ptr.Deref(c.Expression)})
	}
	for _, c := range constraints {
		cs = append(cs, scheduler.Constraint{Type: string(c.Type), Expression: ptr.Deref(c.Expression)})
	}
	var ss []scheduler.Strategy
	for _, st := range strategies {
		ss = append(ss, scheduler.Strategy{Type: string(st.Type), Field: ptr.Deref(st.Field)})
	}
	if len(ss) == 0 {
		ss = []scheduler.Strategy{{Type: "random"}}
	}
	plan, err := scheduler.Compile(cs, ss)
	if err != nil {
		return nil, err
	}
	var required []string
	for _, a := range td.RequiresAttributes {
		required = append(required, ptr.Deref(a.Name))
	}
	return plan.RequireAttributes(required)
}

// clientTokenRecord remembers what a RunTask with a client token did, so
// that a retry returns the same tasks.
type clientTokenRecord struct {
	Hash     string          `json:"hash"`
	TaskIDs  []string        `json:"taskIds"`
	Failures []failureRecord `json:"failures,omitempty"`
}

type failureRecord struct {
	Arn    string `json:"arn"`
	Reason string `json:"reason"`
}

func clientTokenKey(cluster, token string) string {
	return "/ecs/clienttokens/runtask/" + cluster + "/" + hex.EncodeToString([]byte(token))
}

// requestHash fingerprints a RunTask request without its client token.
func requestHash(in *wire.RunTaskRequest) string {
	c := *in
	c.ClientToken = nil
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// replayRunTask answers a RunTask whose client token was seen before: the
// same tasks for the same request, ConflictException for another one, and
// nil when the token is new.
func (s *Service) replayRunTask(ctx context.Context, cluster, token, hash string) (*wire.RunTaskResponse, error) {
	rec, _, err := store.GetJSON[clientTokenRecord](ctx, s.store, clientTokenKey(cluster, token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.Hash != hash {
		return nil, flotilla.Errorf(flotilla.EConflict, "The clientToken %q was already used with different parameters.", token)
	}
	out := &wire.RunTaskResponse{Tasks: []wire.Task{}, Failures: []wire.Failure{}}
	for _, id := range rec.TaskIDs {
		t, _, err := store.GetJSON[flotilla.Task](ctx, s.store, flotilla.TaskKey(cluster, id))
		if err != nil {
			return nil, err
		}
		out.Tasks = append(out.Tasks, *s.taskToWire(t, false))
	}
	for _, f := range rec.Failures {
		out.Failures = append(out.Failures, wire.Failure{Arn: ptr.To(f.Arn), Reason: ptr.To(f.Reason)})
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
