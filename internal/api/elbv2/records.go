package elbv2

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/paging"
	"github.com/flotilla/flotilla/internal/store"
)

// The records of the store. The data plane's types are their core, so
// that BuildConfig only gathers them; the rest is what the API reports.

// loadBalancerRecord is a load balancer, at prefixLoadBalancer + Name.
type loadBalancerRecord struct {
	lb.LoadBalancer
	ID             string    `json:"id"`
	DNSName        string    `json:"dnsName"`
	Scheme         string    `json:"scheme"`
	IPAddressType  string    `json:"ipAddressType"`
	SecurityGroups []string  `json:"securityGroups,omitempty"`
	Subnets        []string  `json:"subnets,omitempty"`
	Created        time.Time `json:"created"`
	// Attributes are the load balancer attributes set with
	// ModifyLoadBalancerAttributes; the others have their defaults
	// (loadBalancerAttributes).
	Attributes map[string]string `json:"attributes,omitempty"`
}

// targetGroupRecord is a target group with its targets, at
// prefixTargetGroup + Name.
type targetGroupRecord struct {
	lb.TargetGroup
	HealthCheckEnabled bool `json:"healthCheckEnabled"`
}

// listenerRecord is a listener, at prefixListener + ID. Its default rule
// is its DefaultActions, reported with DefaultRuleID.
type listenerRecord struct {
	lb.Listener
	ID            string `json:"id"`
	DefaultRuleID string `json:"defaultRuleId"`
}

// ruleRecord is a rule of a listener other than its default, at
// prefixRule + ID.
type ruleRecord struct {
	lb.Rule
	ID string `json:"id"`
}

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

func (s *Service) getLoadBalancer(ctx context.Context, arn string) (*loadBalancerRecord, int64, error) {
	return get(ctx, s.store, prefixLoadBalancer+resourceName(arn, "loadbalancer"), arn,
		func(r *loadBalancerRecord) string { return r.ARN }, errLoadBalancerNotFound)
}

func (s *Service) getTargetGroup(ctx context.Context, arn string) (*targetGroupRecord, int64, error) {
	return get(ctx, s.store, prefixTargetGroup+resourceName(arn, "targetgroup"), arn,
		func(r *targetGroupRecord) string { return r.ARN }, errTargetGroupNotFound)
}

func (s *Service) getListener(ctx context.Context, arn string) (*listenerRecord, int64, error) {
	if !strings.Contains(arn, ":listener/app/") {
		return nil, 0, errListenerNotFound()
	}
	return get(ctx, s.store, prefixListener+lastPart(arn), arn,
		func(r *listenerRecord) string { return r.ARN }, errListenerNotFound)
}

func (s *Service) getRule(ctx context.Context, arn string) (*ruleRecord, int64, error) {
	if !strings.Contains(arn, ":listener-rule/app/") {
		return nil, 0, errRuleNotFound()
	}
	return get(ctx, s.store, prefixRule+lastPart(arn), arn,
		func(r *ruleRecord) string { return r.ARN }, errRuleNotFound)
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

// state is every record, read for checks across them and for BuildConfig.
type state struct {
	loadBalancers []store.Item[loadBalancerRecord]
	targetGroups  []store.Item[targetGroupRecord]
	listeners     []store.Item[listenerRecord]
	rules         []store.Item[ruleRecord]
}

func readState(ctx context.Context, s store.Store) (*state, error) {
	var st state
	var err error
	if st.loadBalancers, err = list[loadBalancerRecord](ctx, s, prefixLoadBalancer); err != nil {
		return nil, err
	}
	if st.targetGroups, err = list[targetGroupRecord](ctx, s, prefixTargetGroup); err != nil {
		return nil, err
	}
	if st.listeners, err = list[listenerRecord](ctx, s, prefixListener); err != nil {
		return nil, err
	}
	if st.rules, err = list[ruleRecord](ctx, s, prefixRule); err != nil {
		return nil, err
	}
	return &st, nil
}

// targetGroupsOf returns the ARNs of the target groups that the actions
// forward to.
func targetGroupsOf(actions []lb.Action) []string {
	var arns []string
	for _, a := range actions {
		if a.TargetGroupARN != "" {
			arns = append(arns, a.TargetGroupARN)
		}
		if a.ForwardConfig != nil {
			for _, t := range a.ForwardConfig.TargetGroups {
				arns = append(arns, t.TargetGroupARN)
			}
		}
	}
	return arns
}

// loadBalancersOf returns, by target group ARN, the ARNs of the load
// balancers whose listeners or rules forward to the group.
func (st *state) loadBalancersOf() map[string][]string {
	listenerLB := map[string]string{}
	out := map[string][]string{}
	add := func(tg, lbARN string) {
		for _, a := range out[tg] {
			if a == lbARN {
				return
			}
		}
		out[tg] = append(out[tg], lbARN)
	}
	for _, l := range st.listeners {
		listenerLB[l.Value.ARN] = l.Value.LoadBalancerARN
		for _, tg := range targetGroupsOf(l.Value.DefaultActions) {
			add(tg, l.Value.LoadBalancerARN)
		}
	}
	for _, r := range st.rules {
		for _, tg := range targetGroupsOf(r.Value.Actions) {
			add(tg, listenerLB[r.Value.ListenerARN])
		}
	}
	return out
}
