package ecs

import (
	"context"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

const maxAttributesPerCall = 10

// PutAttributes sets attributes on container instances.
func (s *Service) PutAttributes(ctx context.Context, in *wire.PutAttributesRequest) (*wire.PutAttributesResponse, error) {
	err := s.changeAttributes(ctx, in.Cluster, in.Attributes, func(ci *flotilla.ContainerInstance, attrs []flotilla.Attribute) error {
		return ci.PutAttributes(attrs)
	})
	if err != nil {
		return nil, err
	}
	return &wire.PutAttributesResponse{Attributes: in.Attributes}, nil
}

// DeleteAttributes removes attributes from container instances; names the
// instance does not carry are ignored.
func (s *Service) DeleteAttributes(ctx context.Context, in *wire.DeleteAttributesRequest) (*wire.DeleteAttributesResponse, error) {
	err := s.changeAttributes(ctx, in.Cluster, in.Attributes, func(ci *flotilla.ContainerInstance, attrs []flotilla.Attribute) error {
		var names []string
		for _, a := range attrs {
			for _, have := range ci.Attributes {
				if have.Name == a.Name {
					names = append(names, a.Name)
					break
				}
			}
		}
		return ci.DeleteAttributes(names)
	})
	if err != nil {
		return nil, err
	}
	return &wire.DeleteAttributesResponse{Attributes: in.Attributes}, nil
}

// changeAttributes groups attributes by target and applies change to each
// target instance in its own compare-and-swap.
func (s *Service) changeAttributes(ctx context.Context, clusterRef *string, in []wire.Attribute, change func(*flotilla.ContainerInstance, []flotilla.Attribute) error) error {
	cluster, err := s.clusterName(clusterRef)
	if err != nil {
		return err
	}
	if len(in) == 0 || len(in) > maxAttributesPerCall {
		return flotilla.Errorf(flotilla.EInvalid, "attributes must contain between 1 and %d items.", maxAttributesPerCall)
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return err
	}
	var order []string
	byTarget := map[string][]flotilla.Attribute{}
	for _, a := range in {
		if a.TargetType != "" && a.TargetType != wire.TargetTypeContainerInstance {
			return flotilla.Errorf(flotilla.EInvalid, "Invalid targetType %q: only container-instance is supported.", a.TargetType)
		}
		target := ptr.Deref(a.TargetId)
		if target == "" {
			return flotilla.Errorf(flotilla.EInvalid, "targetId is required for attribute %s.", ptr.Deref(a.Name))
		}
		fa := flotilla.Attribute{Name: ptr.Deref(a.Name), Value: a.Value}
		if err := flotilla.ValidateAttribute(fa); err != nil {
			return err
		}
		if _, ok := byTarget[target]; !ok {
			order = append(order, target)
		}
		byTarget[target] = append(byTarget[target], fa)
	}
	for _, target := range order {
		if _, err := s.updateInstance(ctx, cluster, target, func(ci *flotilla.ContainerInstance) error {
			return change(ci, byTarget[target])
		}); err != nil {
			return err
		}
	}
	return nil
}

// ListAttributes lists the attributes of a cluster's container instances,
// optionally by name and value.
func (s *Service) ListAttributes(ctx context.Context, in *wire.ListAttributesRequest) (*wire.ListAttributesResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if in.TargetType != wire.TargetTypeContainerInstance {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Invalid targetType %q: only container-instance is supported.", in.TargetType)
	}
	if in.AttributeValue != nil && in.AttributeName == nil {
		return nil, flotilla.Errorf(flotilla.EInvalid, "attributeValue requires attributeName.")
	}
	p, err := parsePage(in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	items, _, err := store.ListJSON[flotilla.ContainerInstance](ctx, s.store, flotilla.ClusterInstancesPrefix(cluster), store.ListOptions{})
	if err != nil {
		return nil, err
	}
	type entry struct {
		key  string
		attr wire.Attribute
	}
	var all []entry
	for _, it := range items {
		ci := it.Value
		if ci.Status == flotilla.InstanceInactive {
			continue
		}
		for _, a := range ci.Attributes {
			if in.AttributeName != nil && a.Name != *in.AttributeName {
				continue
			}
			if in.AttributeValue != nil && (a.Value == nil || *a.Value != *in.AttributeValue) {
				continue
			}
			all = append(all, entry{ci.ID + "/" + a.Name, wire.Attribute{
				Name: ptr.To(a.Name), Value: a.Value, TargetType: wire.TargetTypeContainerInstance, TargetId: ptr.To(ci.ARN)}})
		}
	}
	pageItems, next := paginate(all, func(e entry) string { return e.key }, p)
	out := &wire.ListAttributesResponse{Attributes: []wire.Attribute{}, NextToken: next}
	for _, e := range pageItems {
		out.Attributes = append(out.Attributes, e.attr)
	}
	return out, nil
}
