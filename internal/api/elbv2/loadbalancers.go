package elbv2

import (
	"context"
	"errors"
	"slices"

	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/store"
)

// CreateLoadBalancer creates an application load balancer, active at once.
// A second call with the same name and settings returns the same load
// balancer; with other settings it fails with DuplicateLoadBalancerName.
func (s *Service) CreateLoadBalancer(ctx context.Context, in *wire.CreateLoadBalancerInput) (*wire.CreateLoadBalancerOutput, error) {
	name := deref(in.Name)
	if in.Type != "" && in.Type != wire.LoadBalancerTypeEnumApplication {
		return nil, errValidation("Load balancer type '%s' is not supported; only 'application' is", in.Type)
	}
	if !validName(name) {
		return nil, errValidation("Load balancer name '%s' must have at most 32 alphanumeric characters or hyphens, and must not begin or end with a hyphen", name)
	}
	tags, err := tagsFromWire(in.Tags)
	if err != nil {
		return nil, err
	}
	subnets := slices.Clone(in.Subnets)
	for _, m := range in.SubnetMappings {
		subnets = append(subnets, deref(m.SubnetId))
	}
	id := newID()
	rec := loadBalancerRecord{
		LoadBalancer:   lb.LoadBalancer{ARN: s.arn("loadbalancer/app/" + name + "/" + id), Name: name},
		ID:             id,
		DNSName:        name + "-" + id + "." + s.region + ".elb.localhost",
		Scheme:         string(in.Scheme),
		IPAddressType:  string(in.IpAddressType),
		SecurityGroups: in.SecurityGroups,
		Subnets:        subnets,
		Created:        s.now().UTC().Truncate(1e6),
	}
	if rec.Scheme == "" {
		rec.Scheme = string(wire.LoadBalancerSchemeEnumInternetFacing)
	}
	if rec.IPAddressType == "" {
		rec.IPAddressType = string(wire.IpAddressTypeIpv4)
	}
	key := prefixLoadBalancer + name
	err = s.write(ctx, func() (store.Txn, error) {
		old, _, err := store.GetJSON[loadBalancerRecord](ctx, s.store, key)
		switch {
		case err == nil && old.Scheme == rec.Scheme && old.IPAddressType == rec.IPAddressType &&
			slices.Equal(old.SecurityGroups, rec.SecurityGroups) && slices.Equal(old.Subnets, rec.Subnets):
			rec = *old
			return store.Txn{}, nil
		case err == nil:
			return store.Txn{}, errDuplicateLoadBalancerName()
		case !errors.Is(err, store.ErrNotFound):
			return store.Txn{}, err
		}
		op, err := store.PutJSON(key, rec)
		if err != nil {
			return store.Txn{}, err
		}
		tagOps, err := putTags(rec.ARN, tags)
		return store.Txn{Compares: []store.Compare{{Key: key}}, Ops: append([]store.Op{op}, tagOps...)}, err
	})
	if err != nil {
		return nil, err
	}
	return &wire.CreateLoadBalancerOutput{LoadBalancers: []wire.LoadBalancer{s.loadBalancerToWire(&rec)}}, nil
}

// DescribeLoadBalancers describes the named load balancers, or all of
// them; LoadBalancerNotFound when one of those named does not exist.
func (s *Service) DescribeLoadBalancers(ctx context.Context, in *wire.DescribeLoadBalancersInput) (*wire.DescribeLoadBalancersOutput, error) {
	if len(in.Names) > 0 && len(in.LoadBalancerArns) > 0 {
		return nil, errValidation("Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	out := &wire.DescribeLoadBalancersOutput{LoadBalancers: []wire.LoadBalancer{}}
	switch {
	case len(in.Names) > 0:
		for _, name := range in.Names {
			rec, _, err := get(ctx, s.store, prefixLoadBalancer+name, "",
				func(r *loadBalancerRecord) string { return r.ARN }, errLoadBalancerNotFound)
			if err != nil {
				return nil, err
			}
			out.LoadBalancers = append(out.LoadBalancers, s.loadBalancerToWire(rec))
		}
	case len(in.LoadBalancerArns) > 0:
		for _, arn := range in.LoadBalancerArns {
			rec, _, err := s.getLoadBalancer(ctx, arn)
			if err != nil {
				return nil, err
			}
			out.LoadBalancers = append(out.LoadBalancers, s.loadBalancerToWire(rec))
		}
	default:
		items, err := list[loadBalancerRecord](ctx, s.store, prefixLoadBalancer)
		if err != nil {
			return nil, err
		}
		for i := range items {
			out.LoadBalancers = append(out.LoadBalancers, s.loadBalancerToWire(&items[i].Value))
		}
	}
	return out, nil
}

// DeleteLoadBalancer deletes a load balancer with its listeners and their
// rules. Deleting one that does not exist succeeds, as in ELBv2.
func (s *Service) DeleteLoadBalancer(ctx context.Context, in *wire.DeleteLoadBalancerInput) (*wire.DeleteLoadBalancerOutput, error) {
	arn := deref(in.LoadBalancerArn)
	err := s.write(ctx, func() (store.Txn, error) {
		_, rev, err := s.getLoadBalancer(ctx, arn)
		var nf *wire.LoadBalancerNotFoundException
		if errors.As(err, &nf) {
			return store.Txn{}, nil
		}
		if err != nil {
			return store.Txn{}, err
		}
		st, err := readState(ctx, s.store)
		if err != nil {
			return store.Txn{}, err
		}
		key := prefixLoadBalancer + resourceName(arn, "loadbalancer")
		txn := store.Txn{Compares: []store.Compare{{Key: key, ModRevision: rev}}, Ops: []store.Op{{Key: key, Delete: true}, deleteTags(arn)}}
		gone := map[string]bool{}
		for _, l := range st.listeners {
			if l.Value.LoadBalancerARN == arn {
				gone[l.Value.ARN] = true
				txn.Compares = append(txn.Compares, store.Compare{Key: l.Key, ModRevision: l.ModRevision})
				txn.Ops = append(txn.Ops, store.Op{Key: l.Key, Delete: true}, deleteTags(l.Value.ARN), deleteTags(defaultRuleARN(&l.Value)))
			}
		}
		for _, r := range st.rules {
			if gone[r.Value.ListenerARN] {
				txn.Ops = append(txn.Ops, store.Op{Key: r.Key, Delete: true}, deleteTags(r.Value.ARN))
			}
		}
		return txn, nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.DeleteLoadBalancerOutput{}, nil
}

func (s *Service) loadBalancerToWire(r *loadBalancerRecord) wire.LoadBalancer {
	out := wire.LoadBalancer{
		LoadBalancerArn:       ptr(r.ARN),
		LoadBalancerName:      ptr(r.Name),
		DNSName:               ptr(r.DNSName),
		CanonicalHostedZoneId: ptr("Z00FLOTILLA"),
		CreatedTime:           model.NewTime(r.Created),
		Scheme:                wire.LoadBalancerSchemeEnum(r.Scheme),
		Type:                  wire.LoadBalancerTypeEnumApplication,
		IpAddressType:         wire.IpAddressType(r.IPAddressType),
		State:                 &wire.LoadBalancerState{Code: wire.LoadBalancerStateEnumActive},
		SecurityGroups:        r.SecurityGroups,
		VpcId:                 ptr("vpc-flotilla"),
	}
	for i, subnet := range r.Subnets {
		out.AvailabilityZones = append(out.AvailabilityZones, wire.AvailabilityZone{
			ZoneName: ptr(s.region + string(rune('a'+i%26))),
			SubnetId: ptr(subnet),
		})
	}
	return out
}

// validName reports whether name is a valid load balancer or target group
// name: 1 to 32 alphanumerics or hyphens, no hyphen first or last.
func validName(name string) bool {
	if name == "" || len(name) > 32 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
