package ecs

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/store"
)

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
// definition and the overrides (flotilla.TaskSpec.Resolve).
func (r *taskRequest) resolve() error {
	var err error
	r.containers, r.res, err = taskSpec(r.td, r.overrides).Resolve()
	return err
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
func placementPlan(td *wire.TaskDefinition, constraints []flotilla.PlacementConstraint, strategies []flotilla.PlacementStrategy) (*scheduler.Plan, error) {
	var cs []flotilla.PlacementConstraint
	for _, c := range td.PlacementConstraints {
		cs = append(cs, flotilla.PlacementConstraint{Type: string(c.Type), Expression: ptr.Deref(c.Expression)})
	}
	cs = append(cs, constraints...)
	ss := strategies
	if len(ss) == 0 {
		ss = []flotilla.PlacementStrategy{{Type: scheduler.StrategyRandom}}
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
