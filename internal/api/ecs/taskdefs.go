package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// RegisterTaskDefinition validates a definition against ECS's registration
// rules, fills in ECS's defaults, and stores it as the family's next revision.
func (s *Service) RegisterTaskDefinition(ctx context.Context, in *wire.RegisterTaskDefinitionRequest) (*wire.RegisterTaskDefinitionResponse, error) {
	td, err := s.buildTaskDefinition(in)
	if err != nil {
		return nil, err
	}
	tags := tagsFromWire(in.Tags)
	if err := flotilla.ValidateTags(tags); err != nil {
		return nil, err
	}
	family := ptr.Deref(in.Family)
	for {
		fam, famRev, err := store.GetJSON[flotilla.Family](ctx, s.store, flotilla.FamilyKey(family))
		if errors.Is(err, store.ErrNotFound) {
			fam, famRev, err = &flotilla.Family{Name: family}, 0, nil
		}
		if err != nil {
			return nil, err
		}
		fam.LastRevision++
		now := s.now().UTC()
		td.Revision = ptr.To(int32(fam.LastRevision))
		td.TaskDefinitionArn = ptr.To(s.acct.TaskDefinitionARN(family, fam.LastRevision))
		td.RegisteredAt = &model.Time{Time: now}
		def, err := json.Marshal(td)
		if err != nil {
			return nil, fmt.Errorf("encode task definition: %w", err)
		}
		rec := flotilla.TaskDefinition{
			Family: family, Revision: fam.LastRevision, ARN: *td.TaskDefinitionArn,
			Status: flotilla.TaskDefinitionActive, Definition: def, Tags: tags, RegisteredAt: now,
		}
		_, err = s.store.Txn(ctx, store.Txn{
			Compares: []store.Compare{{Key: flotilla.FamilyKey(family), ModRevision: famRev}},
			Ops: []store.Op{
				putJSON(flotilla.FamilyKey(family), fam),
				putJSON(flotilla.TaskDefinitionKey(family, fam.LastRevision), rec),
			},
		})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &wire.RegisterTaskDefinitionResponse{TaskDefinition: taskDefToWire(&rec), Tags: tagsToWire(tags)}, nil
	}
}

// DescribeTaskDefinition describes a family's latest ACTIVE revision, a
// family:revision, or an ARN.
func (s *Service) DescribeTaskDefinition(ctx context.Context, in *wire.DescribeTaskDefinitionRequest) (*wire.DescribeTaskDefinitionResponse, error) {
	ref := ptr.Deref(in.TaskDefinition)
	rev, err := s.store.Rev(ctx)
	if err != nil {
		return nil, err
	}
	v, ok := s.reads.taskDefs.load(ref, rev)
	if !ok {
		if v, _, err = s.lookupTaskDefinition(ctx, ref); err != nil {
			return nil, err
		}
		s.reads.taskDefs.store(ref, rev, v)
	}
	out := &wire.DescribeTaskDefinitionResponse{TaskDefinition: v.wire}
	if hasInclude(in.Include, wire.TaskDefinitionFieldTags) {
		out.Tags = v.tags
	}
	return out, nil
}

// findTaskDefinition resolves a reference to a stored revision; the caller
// may change the record it returns.
func (s *Service) findTaskDefinition(ctx context.Context, ref string) (*flotilla.TaskDefinition, int64, error) {
	v, rev, err := s.lookupTaskDefinition(ctx, ref)
	if err != nil {
		return nil, 0, err
	}
	rec := *v.rec
	rec.Definition = slices.Clone(rec.Definition)
	rec.Tags = slices.Clone(rec.Tags)
	return &rec, rev, nil
}

// lookupTaskDefinition resolves a reference to a stored revision, decoded
// through the read cache (the view is shared: do not change it), and returns
// it with its ModRevision.
func (s *Service) lookupTaskDefinition(ctx context.Context, ref string) (*taskDefView, int64, error) {
	r, err := s.taskDefinitionRef(ref)
	if err != nil {
		return nil, 0, err
	}
	if r.Revision > 0 {
		kv, err := s.store.Get(ctx, flotilla.TaskDefinitionKey(r.Family, r.Revision))
		if errors.Is(err, store.ErrNotFound) {
			return nil, 0, errTaskDefinitionNotFound()
		}
		if err != nil {
			return nil, 0, err
		}
		v, err := decoded(&s.reads.taskDefRecords, kv, decodeTaskDefView)
		return v, kv.ModRevision, err
	}
	kvs, _, err := s.store.List(ctx, flotilla.FamilyTaskDefinitionsPrefix(r.Family), store.ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	for i := len(kvs) - 1; i >= 0; i-- {
		v, err := decoded(&s.reads.taskDefRecords, &kvs[i], decodeTaskDefView)
		if err != nil {
			return nil, 0, err
		}
		if v.rec.Status == flotilla.TaskDefinitionActive {
			return v, kvs[i].ModRevision, nil
		}
	}
	return nil, 0, errTaskDefinitionNotFound()
}

// taskDefinitionRef parses a reference to a task definition; an ARN of
// another region or account names none here.
func (s *Service) taskDefinitionRef(ref string) (flotilla.TaskDefinitionRef, error) {
	if s.foreign(ref) {
		return flotilla.TaskDefinitionRef{}, errTaskDefinitionNotFound()
	}
	return flotilla.ParseTaskDefinitionRef(ref)
}

func errTaskDefinitionNotFound() error {
	return flotilla.Errorf(flotilla.EClient, "Unable to describe task definition.")
}

// ListTaskDefinitions lists revision ARNs by status (default ACTIVE),
// optionally of one family, sorted by family and revision.
func (s *Service) ListTaskDefinitions(ctx context.Context, in *wire.ListTaskDefinitionsRequest) (*wire.ListTaskDefinitionsResponse, error) {
	p, err := parsePage(in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	status := string(in.Status)
	if status == "" {
		status = flotilla.TaskDefinitionActive
	}
	prefix := flotilla.TaskDefinitionsPrefix
	if f := ptr.Deref(in.FamilyPrefix); f != "" {
		prefix = flotilla.FamilyTaskDefinitionsPrefix(f)
	}
	items, _, err := store.ListJSON[flotilla.TaskDefinition](ctx, s.store, prefix, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	var recs []flotilla.TaskDefinition
	for _, it := range items {
		if it.Value.Status == status {
			recs = append(recs, it.Value)
		}
	}
	desc := in.Sort == wire.SortOrderDesc
	if desc {
		slices.Reverse(recs)
	}
	key := func(t flotilla.TaskDefinition) string { return flotilla.TaskDefinitionKey(t.Family, t.Revision) }
	pageRecs, next := paginateOrdered(recs, key, p, desc)
	out := &wire.ListTaskDefinitionsResponse{TaskDefinitionArns: []string{}, NextToken: next}
	for _, r := range pageRecs {
		out.TaskDefinitionArns = append(out.TaskDefinitionArns, r.ARN)
	}
	return out, nil
}

// ListTaskDefinitionFamilies lists families with an ACTIVE revision (the
// default), with none (INACTIVE), or all of them.
func (s *Service) ListTaskDefinitionFamilies(ctx context.Context, in *wire.ListTaskDefinitionFamiliesRequest) (*wire.ListTaskDefinitionFamiliesResponse, error) {
	p, err := parsePage(in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	status := string(in.Status)
	if status == "" {
		status = "ACTIVE"
	}
	items, _, err := store.ListJSON[flotilla.TaskDefinition](ctx, s.store, flotilla.TaskDefinitionsPrefix+ptr.Deref(in.FamilyPrefix), store.ListOptions{})
	if err != nil {
		return nil, err
	}
	active := map[string]bool{}
	var families []string
	for _, it := range items {
		f := it.Value.Family
		if !strings.HasPrefix(f, ptr.Deref(in.FamilyPrefix)) {
			continue
		}
		if len(families) == 0 || families[len(families)-1] != f {
			families = append(families, f)
		}
		if it.Value.Status == flotilla.TaskDefinitionActive {
			active[f] = true
		}
	}
	var keep []string
	for _, f := range families {
		if status == "ALL" || (status == "ACTIVE") == active[f] {
			keep = append(keep, f)
		}
	}
	pageFams, next := paginate(keep, func(f string) string { return f }, p)
	return &wire.ListTaskDefinitionFamiliesResponse{Families: append([]string{}, pageFams...), NextToken: next}, nil
}

// DeregisterTaskDefinition marks a revision INACTIVE.
func (s *Service) DeregisterTaskDefinition(ctx context.Context, in *wire.DeregisterTaskDefinitionRequest) (*wire.DeregisterTaskDefinitionResponse, error) {
	ref, err := s.taskDefinitionRef(ptr.Deref(in.TaskDefinition))
	if err != nil {
		return nil, err
	}
	if ref.Revision == 0 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "TaskDefinition must be a family:revision or a full ARN.")
	}
	rec, err := s.setTaskDefinitionStatus(ctx, ref, func(rec *flotilla.TaskDefinition) error {
		if rec.Status == flotilla.TaskDefinitionActive {
			rec.Status = flotilla.TaskDefinitionInactive
			rec.DeregisteredAt = s.now().UTC()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.DeregisterTaskDefinitionResponse{TaskDefinition: taskDefToWire(rec)}, nil
}

// DeleteTaskDefinitions moves INACTIVE revisions to DELETE_IN_PROGRESS;
// others come back in failures.
func (s *Service) DeleteTaskDefinitions(ctx context.Context, in *wire.DeleteTaskDefinitionsRequest) (*wire.DeleteTaskDefinitionsResponse, error) {
	if len(in.TaskDefinitions) == 0 || len(in.TaskDefinitions) > 10 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "taskDefinitions must contain between 1 and 10 items.")
	}
	out := &wire.DeleteTaskDefinitionsResponse{TaskDefinitions: []wire.TaskDefinition{}, Failures: []wire.Failure{}}
	for _, name := range in.TaskDefinitions {
		ref, err := s.taskDefinitionRef(name)
		if err != nil || ref.Revision == 0 {
			out.Failures = append(out.Failures, wire.Failure{Arn: ptr.To(name), Reason: ptr.To("The specified task definition identifier is invalid. Specify a valid name or ARN and try again.")})
			continue
		}
		rec, err := s.setTaskDefinitionStatus(ctx, ref, func(rec *flotilla.TaskDefinition) error {
			if rec.Status == flotilla.TaskDefinitionActive {
				return flotilla.Errorf(flotilla.EClient, "The specified task definition is still in ACTIVE status. Please deregister the target and try again.")
			}
			rec.Status = flotilla.TaskDefinitionDeleteInProgress
			return nil
		})
		var de *flotilla.Error
		if errors.As(err, &de) {
			out.Failures = append(out.Failures, wire.Failure{Arn: ptr.To(s.acct.TaskDefinitionARN(ref.Family, ref.Revision)), Reason: ptr.To(de.Message)})
			continue
		}
		if err != nil {
			return nil, err
		}
		out.TaskDefinitions = append(out.TaskDefinitions, *taskDefToWire(rec))
	}
	return out, nil
}

func (s *Service) setTaskDefinitionStatus(ctx context.Context, ref flotilla.TaskDefinitionRef, mutate func(*flotilla.TaskDefinition) error) (*flotilla.TaskDefinition, error) {
	return update(ctx, s.store, flotilla.TaskDefinitionKey(ref.Family, ref.Revision), func(rec *flotilla.TaskDefinition) error {
		if rec == nil {
			return flotilla.Errorf(flotilla.EClient, "The specified task definition does not exist.")
		}
		return nil
	}, mutate)
}

// taskDefToWire returns a stored revision in ECS's shape.
func taskDefToWire(rec *flotilla.TaskDefinition) *wire.TaskDefinition {
	var td wire.TaskDefinition
	_ = json.Unmarshal(rec.Definition, &td) // written by RegisterTaskDefinition from this type
	td.Status = wire.TaskDefinitionStatus(rec.Status)
	td.DeregisteredAt = model.NewTime(rec.DeregisteredAt)
	return &td
}
