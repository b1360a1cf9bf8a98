package elbv2

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// CreateLoadBalancer creates an application load balancer, active at once.
// A second call with the same name and settings returns the same load
// balancer; with other settings it fails with DuplicateLoadBalancerName.
func (s *Service) CreateLoadBalancer(ctx context.Context, in *wire.CreateLoadBalancerInput) (*wire.CreateLoadBalancerOutput, error) {
	name := ptr.Deref(in.Name)
	if in.Type != "" && in.Type != wire.LoadBalancerTypeEnumApplication {
		return nil, errValidation("Load balancer type '%s' is not supported; only 'application' is", in.Type)
	}
	if !elb.ValidName(name) {
		return nil, errValidation("Load balancer name '%s' must have at most 32 alphanumeric characters or hyphens, and must not begin or end with a hyphen", name)
	}
	tags, err := tagsFromWire(in.Tags)
	if err != nil {
		return nil, err
	}
	subnets := slices.Clone(in.Subnets)
	for _, m := range in.SubnetMappings {
		subnets = append(subnets, ptr.Deref(m.SubnetId))
	}
	id := newID()
	rec := elb.LoadBalancerRecord{
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
	key := elb.LoadBalancerKey(name)
	err = s.write(ctx, func() (store.Txn, error) {
		old, _, err := store.GetJSON[elb.LoadBalancerRecord](ctx, s.store, key)
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

// DescribeLoadBalancers describes the named load balancers, in the
// request's order, or all of them by name, a page at a time;
// LoadBalancerNotFound when one of those named does not exist.
func (s *Service) DescribeLoadBalancers(ctx context.Context, in *wire.DescribeLoadBalancersInput) (*wire.DescribeLoadBalancersOutput, error) {
	if len(in.Names) > 0 && len(in.LoadBalancerArns) > 0 {
		return nil, errValidation("Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	var all []keyed[*elb.LoadBalancerRecord]
	switch {
	case len(in.Names) > 0:
		for i, name := range in.Names {
			rec, _, err := get(ctx, s.store, elb.LoadBalancerKey(name), "",
				func(r *elb.LoadBalancerRecord) string { return r.ARN }, errLoadBalancerNotFound)
			if err != nil {
				return nil, err
			}
			all = append(all, keyed[*elb.LoadBalancerRecord]{numberKey(i), rec})
		}
	case len(in.LoadBalancerArns) > 0:
		for i, arn := range in.LoadBalancerArns {
			rec, _, err := s.getLoadBalancer(ctx, arn)
			if err != nil {
				return nil, err
			}
			all = append(all, keyed[*elb.LoadBalancerRecord]{numberKey(i), rec})
		}
	default:
		items, err := list[elb.LoadBalancerRecord](ctx, s.store, elb.LoadBalancersPrefix)
		if err != nil {
			return nil, err
		}
		for i := range items {
			all = append(all, keyed[*elb.LoadBalancerRecord]{items[i].Value.Name, &items[i].Value})
		}
	}
	recs, next, err := page(all, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	impaired, err := s.impaired(ctx)
	if err != nil {
		return nil, err
	}
	out := &wire.DescribeLoadBalancersOutput{LoadBalancers: []wire.LoadBalancer{}, NextMarker: next}
	for _, r := range recs {
		w := s.loadBalancerToWire(r)
		if why, ok := impaired[r.ARN]; ok {
			w.State = &wire.LoadBalancerState{Code: wire.LoadBalancerStateEnumActiveImpaired, Reason: ptr.To(why)}
		}
		out.LoadBalancers = append(out.LoadBalancers, w)
	}
	return out, nil
}

// impaired returns, by load balancer ARN, why the load balancers with a
// listener that a data plane node could not open are impaired: for each
// such listener, by port, its port and the nodes' reasons.
func (s *Service) impaired(ctx context.Context) (map[string]string, error) {
	if s.listenerErrors == nil {
		return nil, nil
	}
	errs, err := s.listenerErrors(ctx)
	if err != nil || len(errs) == 0 {
		return nil, err
	}
	listeners, err := list[elb.ListenerRecord](ctx, s.store, elb.ListenersPrefix)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(listeners, func(a, b store.Item[elb.ListenerRecord]) int { return cmp.Compare(a.Value.Port, b.Value.Port) })
	out := map[string]string{}
	for _, l := range listeners {
		why, ok := errs[l.Value.ARN]
		if !ok {
			continue
		}
		msg := fmt.Sprintf("Listener on port %d cannot open: %s", l.Value.Port, why)
		if prior := out[l.Value.LoadBalancerARN]; prior != "" {
			msg = prior + "; " + msg
		}
		out[l.Value.LoadBalancerARN] = msg
	}
	return out, nil
}

// DeleteLoadBalancer deletes a load balancer with its listeners and their
// rules; OperationNotPermitted while its deletion protection is enabled.
// Deleting one that does not exist succeeds, as in ELBv2.
func (s *Service) DeleteLoadBalancer(ctx context.Context, in *wire.DeleteLoadBalancerInput) (*wire.DeleteLoadBalancerOutput, error) {
	arn := ptr.Deref(in.LoadBalancerArn)
	err := s.write(ctx, func() (store.Txn, error) {
		rec, rev, err := s.getLoadBalancer(ctx, arn)
		var nf *wire.LoadBalancerNotFoundException
		if errors.As(err, &nf) {
			return store.Txn{}, nil
		}
		if err != nil {
			return store.Txn{}, err
		}
		if rec.AllAttributes()[elb.AttrDeletionProtection] == "true" {
			return store.Txn{}, errOperationNotPermitted("Load balancer '%s' cannot be deleted because deletion protection is enabled", arn)
		}
		st, err := elb.ReadState(ctx, s.store)
		if err != nil {
			return store.Txn{}, err
		}
		key := elb.LoadBalancerKey(resourceName(arn, "loadbalancer"))
		txn := store.Txn{Compares: []store.Compare{{Key: key, ModRevision: rev}}, Ops: []store.Op{{Key: key, Delete: true}, deleteTags(arn)}}
		gone := map[string]bool{}
		for _, l := range st.Listeners {
			if l.Value.LoadBalancerARN == arn {
				gone[l.Value.ARN] = true
				txn.Compares = append(txn.Compares, store.Compare{Key: l.Key, ModRevision: l.ModRevision})
				txn.Ops = append(txn.Ops, store.Op{Key: l.Key, Delete: true}, deleteTags(l.Value.ARN), deleteTags(defaultRuleARN(&l.Value)))
				portOps, err := s.releasePort(ctx, &l.Value)
				if err != nil {
					return store.Txn{}, err
				}
				txn.Ops = append(txn.Ops, portOps...)
			}
		}
		for _, r := range st.Rules {
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

func loadBalancerAttributesToWire(attrs map[string]string) []wire.LoadBalancerAttribute {
	out := make([]wire.LoadBalancerAttribute, 0, len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		out = append(out, wire.LoadBalancerAttribute{Key: ptr.To(k), Value: ptr.To(attrs[k])})
	}
	return out
}

// DescribeLoadBalancerAttributes returns every attribute of a load
// balancer.
func (s *Service) DescribeLoadBalancerAttributes(ctx context.Context, in *wire.DescribeLoadBalancerAttributesInput) (*wire.DescribeLoadBalancerAttributesOutput, error) {
	rec, _, err := s.getLoadBalancer(ctx, ptr.Deref(in.LoadBalancerArn))
	if err != nil {
		return nil, err
	}
	return &wire.DescribeLoadBalancerAttributesOutput{Attributes: loadBalancerAttributesToWire(rec.AllAttributes())}, nil
}

// ModifyLoadBalancerAttributes changes attributes of a load balancer and
// returns all of them. An unknown key or a value out of its range is a
// ValidationError, and so is enabling access logs without a bucket;
// load_balancing.cross_zone.enabled cannot be turned off
// (InvalidConfigurationRequest), as for any application load balancer.
func (s *Service) ModifyLoadBalancerAttributes(ctx context.Context, in *wire.ModifyLoadBalancerAttributesInput) (*wire.ModifyLoadBalancerAttributesOutput, error) {
	set := map[string]string{}
	for _, a := range in.Attributes {
		k, v := ptr.Deref(a.Key), ptr.Deref(a.Value)
		known, valid := elb.CheckLoadBalancerAttribute(k, v)
		switch {
		case !known:
			return nil, errValidation("Load balancer attribute key '%s' is not recognized", k)
		case k == elb.AttrCrossZone && v == "false":
			return nil, errInvalidConfig("Cross-zone load balancing cannot be disabled for application load balancers")
		case !valid:
			return nil, errValidation("Load balancer attribute '%s' cannot have the value '%s'", k, v)
		}
		set[k] = v
	}
	arn := ptr.Deref(in.LoadBalancerArn)
	var attrs map[string]string
	err := s.write(ctx, func() (store.Txn, error) {
		rec, rev, err := s.getLoadBalancer(ctx, arn)
		if err != nil {
			return store.Txn{}, err
		}
		if rec.Attributes == nil {
			rec.Attributes = map[string]string{}
		}
		maps.Copy(rec.Attributes, set)
		attrs = rec.AllAttributes()
		if attrs[elb.AttrAccessLogsEnabled] == "true" && attrs[elb.AttrAccessLogsBucket] == "" {
			return store.Txn{}, errValidation("The value of '%s' cannot be empty when access logs are enabled", elb.AttrAccessLogsBucket)
		}
		key := elb.LoadBalancerKey(rec.Name)
		op, err := store.PutJSON(key, rec)
		return store.Txn{Compares: []store.Compare{{Key: key, ModRevision: rev}}, Ops: []store.Op{op}}, err
	})
	if err != nil {
		return nil, err
	}
	return &wire.ModifyLoadBalancerAttributesOutput{Attributes: loadBalancerAttributesToWire(attrs)}, nil
}

func (s *Service) loadBalancerToWire(r *elb.LoadBalancerRecord) wire.LoadBalancer {
	out := wire.LoadBalancer{
		LoadBalancerArn:       ptr.To(r.ARN),
		LoadBalancerName:      ptr.To(r.Name),
		DNSName:               ptr.To(r.DNSName),
		CanonicalHostedZoneId: ptr.To("Z00FLOTILLA"),
		CreatedTime:           model.NewTime(r.Created),
		Scheme:                wire.LoadBalancerSchemeEnum(r.Scheme),
		Type:                  wire.LoadBalancerTypeEnumApplication,
		IpAddressType:         wire.IpAddressType(r.IPAddressType),
		State:                 &wire.LoadBalancerState{Code: wire.LoadBalancerStateEnumActive},
		SecurityGroups:        r.SecurityGroups,
		VpcId:                 ptr.To(flotillaVPC),
	}
	for i, subnet := range r.Subnets {
		out.AvailabilityZones = append(out.AvailabilityZones, wire.AvailabilityZone{
			ZoneName: ptr.To(s.region + string(rune('a'+i%26))),
			SubnetId: ptr.To(subnet),
		})
	}
	return out
}
