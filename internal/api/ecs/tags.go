package ecs

import (
	"context"
	"errors"
	"strings"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// TagResource adds or replaces tags on a cluster, container instance or task
// definition.
func (s *Service) TagResource(ctx context.Context, in *wire.TagResourceRequest) (*wire.TagResourceResponse, error) {
	add := tagsFromWire(in.Tags)
	if err := flotilla.ValidateTags(add); err != nil {
		return nil, err
	}
	_, err := s.changeTags(ctx, ptr.Deref(in.ResourceArn), true, func(have []flotilla.Tag) ([]flotilla.Tag, error) {
		merged := flotilla.MergeTags(have, add)
		return merged, flotilla.ValidateTags(merged)
	})
	if err != nil {
		return nil, err
	}
	return &wire.TagResourceResponse{}, nil
}

// UntagResource removes tags by key.
func (s *Service) UntagResource(ctx context.Context, in *wire.UntagResourceRequest) (*wire.UntagResourceResponse, error) {
	_, err := s.changeTags(ctx, ptr.Deref(in.ResourceArn), true, func(have []flotilla.Tag) ([]flotilla.Tag, error) {
		return flotilla.RemoveTags(have, in.TagKeys), nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.UntagResourceResponse{}, nil
}

// ListTagsForResource lists a resource's tags.
func (s *Service) ListTagsForResource(ctx context.Context, in *wire.ListTagsForResourceRequest) (*wire.ListTagsForResourceResponse, error) {
	tags, err := s.changeTags(ctx, ptr.Deref(in.ResourceArn), false, nil)
	if err != nil {
		return nil, err
	}
	return &wire.ListTagsForResourceResponse{Tags: tagsToWire(tags)}, nil
}

// changeTags finds the resource an ARN names and, when write is set, stores
// the tags change returns; it returns the resource's tags.
func (s *Service) changeTags(ctx context.Context, arn string, write bool, change func([]flotilla.Tag) ([]flotilla.Tag, error)) ([]flotilla.Tag, error) {
	p, ok := flotilla.ParseARN(arn)
	if !ok || !s.acct.Owns("ecs", arn) {
		return nil, flotilla.Errorf(flotilla.EInvalid, "The ARN %q is not a valid ECS resource ARN of this account and region.", arn)
	}
	switch p.Type {
	case "cluster":
		return tagRecord(ctx, s, flotilla.ClusterKey(p.Path), write, change,
			func(c *flotilla.Cluster) *[]flotilla.Tag { return &c.Tags },
			func(c *flotilla.Cluster) bool { return c.Status == flotilla.StatusActive },
			flotilla.Errorf(flotilla.EClusterNotFound, "Cluster not found."))
	case "container-instance":
		cluster, id, found := strings.Cut(p.Path, "/")
		if !found {
			return nil, flotilla.Errorf(flotilla.EInvalid, "Container instance ARNs must be in the long format (container-instance/cluster/id).")
		}
		return tagRecord(ctx, s, flotilla.InstanceKey(cluster, id), write, change,
			func(c *flotilla.ContainerInstance) *[]flotilla.Tag { return &c.Tags },
			func(c *flotilla.ContainerInstance) bool { return true },
			flotilla.Errorf(flotilla.EResourceNotFound, "The specified resource could not be found."))
	case "task-definition":
		ref, err := s.taskDefinitionRef(arn)
		if err != nil || ref.Revision == 0 {
			return nil, flotilla.Errorf(flotilla.EInvalid, "Invalid task definition ARN: %s", arn)
		}
		return tagRecord(ctx, s, flotilla.TaskDefinitionKey(ref.Family, ref.Revision), write, change,
			func(t *flotilla.TaskDefinition) *[]flotilla.Tag { return &t.Tags },
			func(t *flotilla.TaskDefinition) bool { return true },
			flotilla.Errorf(flotilla.EResourceNotFound, "The specified resource could not be found."))
	case "service":
		cluster, name, found := strings.Cut(p.Path, "/")
		if !found {
			return nil, flotilla.Errorf(flotilla.EInvalid, "Service ARNs must be in the long format (service/cluster/name).")
		}
		return tagRecord(ctx, s, flotilla.ServiceKey(cluster, name), write, change,
			func(v *flotilla.Service) *[]flotilla.Tag { return &v.Tags },
			func(v *flotilla.Service) bool { return v.Status != flotilla.ServiceInactive },
			flotilla.Errorf(flotilla.EServiceNotFound, "Service not found."))
	default:
		return nil, flotilla.Errorf(flotilla.EInvalid, "Tagging is not supported for resources of type %s.", p.Type)
	}
}

// tagRecord reads the record at key, checks it exists (live), and when write
// is set applies change to its tags with compare-and-swap.
func tagRecord[T any](ctx context.Context, s *Service, key string, write bool, change func([]flotilla.Tag) ([]flotilla.Tag, error),
	tags func(*T) *[]flotilla.Tag, live func(*T) bool, notFound error) ([]flotilla.Tag, error) {
	check := func(rec *T) error {
		if rec == nil || !live(rec) {
			return notFound
		}
		return nil
	}
	if !write {
		rec, _, err := store.GetJSON[T](ctx, s.store, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound
		}
		if err != nil {
			return nil, err
		}
		if err := check(rec); err != nil {
			return nil, err
		}
		return *tags(rec), nil
	}
	rec, err := update(ctx, s.store, key, check, func(rec *T) error {
		next, err := change(*tags(rec))
		if err != nil {
			return err
		}
		*tags(rec) = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return *tags(rec), nil
}
