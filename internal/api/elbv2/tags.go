package elbv2

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/elb"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// The tags of each resource are at elb.TagsKey(ARN).

// tagsFromWire converts tags given at creation; DuplicateTagKeys when a
// key repeats, TooManyTags over the limit.
func tagsFromWire(in []wire.Tag) ([]flotilla.Tag, error) {
	out := make([]flotilla.Tag, 0, len(in))
	for _, t := range in {
		k := ptr.Deref(t.Key)
		if slices.ContainsFunc(out, func(x flotilla.Tag) bool { return x.Key == k }) {
			return nil, &wire.DuplicateTagKeysException{Message: ptr.To("Tag key '" + k + "' is duplicated")}
		}
		out = append(out, flotilla.Tag{Key: k, Value: ptr.Deref(t.Value)})
	}
	if len(out) > flotilla.MaxTags {
		return nil, errTooManyTags()
	}
	return out, nil
}

// errTooManyTags is the error of a change that would leave a resource
// more than flotilla.MaxTags tags.
func errTooManyTags() error {
	return &wire.TooManyTagsException{Message: ptr.To(fmt.Sprintf("A resource can have at most %d tags", flotilla.MaxTags))}
}

// putTags returns the ops that store the tags of a new resource, if any.
func putTags(arn string, tags []flotilla.Tag) ([]store.Op, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	op, err := store.PutJSON(elb.TagsKey(arn), tags)
	return []store.Op{op}, err
}

// deleteTags returns the op that deletes the tags of a resource.
func deleteTags(arn string) store.Op { return store.Op{Key: elb.TagsKey(arn), Delete: true} }

// checkResource returns the not-found error of arn's kind when it names
// no resource.
func (s *Service) checkResource(ctx context.Context, arn string) error {
	var err error
	switch {
	case strings.Contains(arn, ":loadbalancer/app/"):
		_, _, err = s.getLoadBalancer(ctx, arn)
	case strings.Contains(arn, ":targetgroup/"):
		_, _, err = s.getTargetGroup(ctx, arn)
	case strings.Contains(arn, ":listener/app/"):
		_, _, err = s.getListener(ctx, arn)
	case strings.Contains(arn, ":listener-rule/app/"):
		_, _, err = s.getRule(ctx, arn)
		var nf *wire.RuleNotFoundException
		if errors.As(err, &nf) {
			_, _, err = s.getDefaultRule(ctx, arn)
		}
	default:
		err = errValidation("'%s' is not a valid load balancer, target group, listener or rule ARN", arn)
	}
	return err
}

// updateTags changes the tags of each resource with fn.
func (s *Service) updateTags(ctx context.Context, arns []string, fn func([]flotilla.Tag) ([]flotilla.Tag, error)) error {
	return s.write(ctx, func() (store.Txn, error) {
		var txn store.Txn
		for _, arn := range arns {
			if err := s.checkResource(ctx, arn); err != nil {
				return store.Txn{}, err
			}
			key := elb.TagsKey(arn)
			cur, rev, err := store.GetJSON[[]flotilla.Tag](ctx, s.store, key)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return store.Txn{}, err
			}
			var tags []flotilla.Tag
			if cur != nil {
				tags = *cur
			}
			if tags, err = fn(tags); err != nil {
				return store.Txn{}, err
			}
			op, err := store.PutJSON(key, tags)
			if err != nil {
				return store.Txn{}, err
			}
			txn.Compares = append(txn.Compares, store.Compare{Key: key, ModRevision: rev})
			txn.Ops = append(txn.Ops, op)
		}
		return txn, nil
	})
}

// AddTags adds tags to resources, replacing the values of keys they have.
func (s *Service) AddTags(ctx context.Context, in *wire.AddTagsInput) (*wire.AddTagsOutput, error) {
	add, err := tagsFromWire(in.Tags)
	if err != nil {
		return nil, err
	}
	err = s.updateTags(ctx, in.ResourceArns, func(tags []flotilla.Tag) ([]flotilla.Tag, error) {
		tags = flotilla.MergeTags(tags, add)
		if len(tags) > flotilla.MaxTags {
			return nil, errTooManyTags()
		}
		return tags, nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.AddTagsOutput{}, nil
}

// RemoveTags removes tags from resources by key.
func (s *Service) RemoveTags(ctx context.Context, in *wire.RemoveTagsInput) (*wire.RemoveTagsOutput, error) {
	err := s.updateTags(ctx, in.ResourceArns, func(tags []flotilla.Tag) ([]flotilla.Tag, error) {
		return flotilla.RemoveTags(tags, in.TagKeys), nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.RemoveTagsOutput{}, nil
}

// DescribeTags returns the tags of resources.
func (s *Service) DescribeTags(ctx context.Context, in *wire.DescribeTagsInput) (*wire.DescribeTagsOutput, error) {
	out := &wire.DescribeTagsOutput{TagDescriptions: []wire.TagDescription{}}
	for _, arn := range in.ResourceArns {
		if err := s.checkResource(ctx, arn); err != nil {
			return nil, err
		}
		cur, _, err := store.GetJSON[[]flotilla.Tag](ctx, s.store, elb.TagsKey(arn))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		d := wire.TagDescription{ResourceArn: ptr.To(arn), Tags: []wire.Tag{}}
		if cur != nil {
			for _, t := range *cur {
				d.Tags = append(d.Tags, wire.Tag{Key: ptr.To(t.Key), Value: ptr.To(t.Value)})
			}
		}
		out.TagDescriptions = append(out.TagDescriptions, d)
	}
	return out, nil
}
