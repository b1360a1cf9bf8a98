package elbv2

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/paging"
	"github.com/flotilla/flotilla/internal/store"
)

// lastPart returns what follows the last slash of an ARN.
func lastPart(arn string) string {
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// resourceName returns the name in an ARN of the form
// ...:<kind>/<name>/<id> (target groups) or ...:<kind>/app/<name>/<id>
// (load balancers), or "" when arn has another form.
func resourceName(arn, kind string) string {
	_, res, ok := strings.Cut(arn, ":"+kind+"/")
	if !ok {
		return ""
	}
	parts := strings.Split(res, "/")
	switch {
	case kind == "loadbalancer" && len(parts) == 3 && parts[0] == "app":
		return parts[1]
	case kind == "targetgroup" && len(parts) == 2:
		return parts[0]
	}
	return ""
}

// get reads a record; notFound is returned when it does not exist or its
// ARN is not arn (a record of the same name made after arn's was deleted).
func get[T any](ctx context.Context, s store.Store, key, arn string, arnOf func(*T) string, notFound func() error) (*T, int64, error) {
	if key == "" || strings.HasSuffix(key, "/") {
		return nil, 0, notFound()
	}
	v, rev, err := store.GetJSON[T](ctx, s, key)
	if errors.Is(err, store.ErrNotFound) || (err == nil && arn != "" && arnOf(v) != arn) {
		return nil, 0, notFound()
	}
	return v, rev, err
}

func (s *Service) getLoadBalancer(ctx context.Context, arn string) (*elb.LoadBalancerRecord, int64, error) {
	return get(ctx, s.store, elb.LoadBalancerKey(resourceName(arn, "loadbalancer")), arn,
		func(r *elb.LoadBalancerRecord) string { return r.ARN }, errLoadBalancerNotFound)
}

func (s *Service) getTargetGroup(ctx context.Context, arn string) (*elb.TargetGroupRecord, int64, error) {
	return get(ctx, s.store, elb.TargetGroupKey(resourceName(arn, "targetgroup")), arn,
		func(r *elb.TargetGroupRecord) string { return r.ARN }, errTargetGroupNotFound)
}

func (s *Service) getListener(ctx context.Context, arn string) (*elb.ListenerRecord, int64, error) {
	if !strings.Contains(arn, ":listener/app/") {
		return nil, 0, errListenerNotFound()
	}
	return get(ctx, s.store, elb.ListenerKey(lastPart(arn)), arn,
		func(r *elb.ListenerRecord) string { return r.ARN }, errListenerNotFound)
}

func (s *Service) getRule(ctx context.Context, arn string) (*elb.RuleRecord, int64, error) {
	if !strings.Contains(arn, ":listener-rule/app/") {
		return nil, 0, errRuleNotFound()
	}
	return get(ctx, s.store, elb.RuleKey(lastPart(arn)), arn,
		func(r *elb.RuleRecord) string { return r.ARN }, errRuleNotFound)
}

// list reads every record under prefix, with the keys' revisions.
func list[T any](ctx context.Context, s store.Store, prefix string) ([]store.Item[T], error) {
	items, _, err := store.ListJSON[T](ctx, s, prefix, store.ListOptions{})
	return items, err
}

// maxPageSize is ELBv2's largest page of a Describe operation, and the
// size of a page when the request asks for none.
const maxPageSize = 400

// keyed is an item of a Describe answer with the key it is paged by.
type keyed[T any] struct {
	key  string
	item T
}

// numberKey is the paging key of a number: of a port, of a rule priority,
// or of the index of an item in a list the request names (Names,
// LoadBalancerArns...), whose order is the request's. Keys sort as the
// numbers do.
func numberKey(n int) string { return fmt.Sprintf("%010d", n) }

// page returns the items, in key order, that follow marker (from the
// first when nil), at most pageSize of them (maxPageSize when nil), and
// the marker of the next page, nil on the last. A marker the service did
// not hand out is a ValidationError. The model checks that pageSize is 1
// to 400.
func page[T any](items []keyed[T], marker *string, pageSize *int32) ([]T, *string, error) {
	after := ""
	if marker != nil && *marker != "" {
		var err error
		if after, err = paging.Key(*marker); err != nil {
			return nil, nil, errValidation("The marker '%s' is not valid", *marker)
		}
	}
	size := maxPageSize
	if pageSize != nil {
		size = int(*pageSize)
	}
	slices.SortStableFunc(items, func(a, b keyed[T]) int { return cmp.Compare(a.key, b.key) })
	items, next := paging.Page(items, func(k keyed[T]) string { return k.key }, after, size, false)
	out := make([]T, len(items))
	for i, k := range items {
		out[i] = k.item
	}
	return out, next, nil
}
