package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/model"
	"github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
)

// The toy ELBv2: a few operations of the query protocol on the generated
// elbv2 types, backed by a map, one per behavior the protocol layer must
// handle.

const elbSigning = "elasticloadbalancing"

// toyCreated is the CreatedTime of every toy load balancer, with
// milliseconds, which the wire keeps.
var toyCreated = time.Date(2026, 1, 1, 0, 10, 0, 123_000_000, time.UTC)

var errDuplicateName = errors.New("toy elb: duplicate load balancer name")

type toyELB struct {
	mu    sync.Mutex
	lbs   map[string]elbv2.LoadBalancer // by name
	tags  map[string][]elbv2.Tag        // by ARN
	rules int
}

func newToyELB() *toyELB {
	e := &toyELB{lbs: map[string]elbv2.LoadBalancer{}, tags: map[string][]elbv2.Tag{}}
	// "taken" exists from the start, for the mapped error.
	e.CreateLoadBalancer(context.Background(), &elbv2.CreateLoadBalancerInput{Name: ptr.To("taken"), Subnets: []string{"subnet-a"}})
	return e
}

func (e *toyELB) CreateLoadBalancer(_ context.Context, in *elbv2.CreateLoadBalancerInput) (*elbv2.CreateLoadBalancerOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	name := *in.Name
	if _, ok := e.lbs[name]; ok {
		return nil, fmt.Errorf("create load balancer %s: %w", name, errDuplicateName)
	}
	lb := elbv2.LoadBalancer{
		LoadBalancerArn:  ptr.To("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/" + name + "/50dc6c495c0c9188"),
		LoadBalancerName: ptr.To(name),
		DNSName:          ptr.To(name + "-1234567890.us-east-1.elb.amazonaws.com"),
		CreatedTime:      &model.Time{Time: toyCreated},
		Scheme:           in.Scheme,
		Type:             in.Type,
		IpAddressType:    elbv2.IpAddressTypeIpv4,
		VpcId:            ptr.To("vpc-1"),
		State:            &elbv2.LoadBalancerState{Code: elbv2.LoadBalancerStateEnumProvisioning},
		SecurityGroups:   in.SecurityGroups,
	}
	if lb.Scheme == "" {
		lb.Scheme = elbv2.LoadBalancerSchemeEnumInternetFacing
	}
	if lb.Type == "" {
		lb.Type = elbv2.LoadBalancerTypeEnumApplication
	}
	for i, subnet := range in.Subnets {
		lb.AvailabilityZones = append(lb.AvailabilityZones, elbv2.AvailabilityZone{
			ZoneName:              ptr.To("us-east-1" + string(rune('a'+i))),
			SubnetId:              ptr.To(subnet),
			LoadBalancerAddresses: []elbv2.LoadBalancerAddress{{IpAddress: ptr.To("10.0." + strconv.Itoa(i) + ".10")}},
		})
	}
	e.lbs[name] = lb
	e.tags[*lb.LoadBalancerArn] = in.Tags
	return &elbv2.CreateLoadBalancerOutput{LoadBalancers: []elbv2.LoadBalancer{lb}}, nil
}

func (e *toyELB) DescribeLoadBalancers(_ context.Context, in *elbv2.DescribeLoadBalancersInput) (*elbv2.DescribeLoadBalancersOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := &elbv2.DescribeLoadBalancersOutput{LoadBalancers: []elbv2.LoadBalancer{}}
	names := in.Names
	if names == nil {
		for name := range e.lbs {
			names = append(names, name)
		}
		slices.Sort(names)
	}
	for _, name := range names {
		lb, ok := e.lbs[name]
		if !ok {
			return nil, &elbv2.LoadBalancerNotFoundException{Message: ptr.To("One or more load balancers not found")}
		}
		out.LoadBalancers = append(out.LoadBalancers, lb)
	}
	return out, nil
}

func (e *toyELB) DescribeTags(_ context.Context, in *elbv2.DescribeTagsInput) (*elbv2.DescribeTagsOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := &elbv2.DescribeTagsOutput{}
	for _, arn := range in.ResourceArns {
		out.TagDescriptions = append(out.TagDescriptions, elbv2.TagDescription{ResourceArn: ptr.To(arn), Tags: e.tags[arn]})
	}
	return out, nil
}

func (e *toyELB) CreateRule(_ context.Context, in *elbv2.CreateRuleInput) (*elbv2.CreateRuleOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules++
	rule := elbv2.Rule{
		RuleArn:    ptr.To(*in.ListenerArn + "/rule/" + strconv.Itoa(e.rules)),
		Priority:   ptr.To(strconv.Itoa(int(*in.Priority))),
		IsDefault:  ptr.To(false),
		Conditions: in.Conditions,
		Actions:    in.Actions,
	}
	return &elbv2.CreateRuleOutput{Rules: []elbv2.Rule{rule}}, nil
}

func (e *toyELB) CreateTargetGroup(_ context.Context, in *elbv2.CreateTargetGroupInput) (*elbv2.CreateTargetGroupOutput, error) {
	return &elbv2.CreateTargetGroupOutput{TargetGroups: []elbv2.TargetGroup{{TargetGroupName: in.Name, Port: in.Port}}}, nil
}

// toyELBMapError is the toy ELBv2's error table.
func toyELBMapError(err error) *api.Error {
	if errors.Is(err, errDuplicateName) {
		return &api.Error{Code: "DuplicateLoadBalancerName", Message: "A load balancer with the same name exists."}
	}
	return nil
}

// toyELBService returns the toy ELBv2 as a QueryService, with operations
// that fail as servers fail (an unmapped error, a panic, a modeled 5xx)
// and one answering a status of its own.
func toyELBService() api.QueryService {
	e := newToyELB()
	return api.QueryService{
		SigningName:  elbSigning,
		Version:      elbv2.APIVersion,
		XMLNamespace: elbv2.XMLNamespace,
		Operations: map[string]api.QueryOperation{
			"CreateLoadBalancer":    api.Query(e.CreateLoadBalancer),
			"DescribeLoadBalancers": api.Query(e.DescribeLoadBalancers),
			"DescribeTags":          api.Query(e.DescribeTags),
			"CreateRule":            api.Query(e.CreateRule),
			"CreateTargetGroup":     api.Query(e.CreateTargetGroup),
			"DeleteLoadBalancer": api.Query(func(context.Context, *elbv2.DeleteLoadBalancerInput) (*elbv2.DeleteLoadBalancerOutput, error) {
				return nil, errors.New("bolt: database file /var/lib/flotilla/state.db is corrupt")
			}),
			"DeleteListener": api.Query(func(context.Context, *elbv2.DeleteListenerInput) (*elbv2.DeleteListenerOutput, error) {
				var m map[string]int
				m["boom"]++
				return nil, nil
			}),
			"DeleteTargetGroup": api.Query(func(context.Context, *elbv2.DeleteTargetGroupInput) (*elbv2.DeleteTargetGroupOutput, error) {
				return nil, errDiskFull
			}),
			"DeleteRule": api.Query(func(context.Context, *elbv2.DeleteRuleInput) (*elbv2.DeleteRuleOutput, error) {
				return nil, nil // an empty result
			}),
			"DescribeTargetHealth": api.Query(func(context.Context, *elbv2.DescribeTargetHealthInput) (*elbv2.DescribeTargetHealthOutput, error) {
				return nil, fmt.Errorf("health: %w", &elbv2.HealthUnavailableException{Message: ptr.To("The health of the specified targets could not be retrieved due to an internal error.")})
			}),
			"SetRulePriorities": api.Query(func(context.Context, *elbv2.SetRulePrioritiesInput) (*elbv2.SetRulePrioritiesOutput, error) {
				return nil, &api.Error{Code: "PriorityInUse", Message: "The specified priority is in use.", Status: http.StatusConflict}
			}),
		},
		MapError: toyELBMapError,
	}
}
