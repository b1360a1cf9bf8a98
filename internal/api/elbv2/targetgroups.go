package elbv2

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// flotillaVPC is the ID of the one VPC that Flotilla's load balancers and
// target groups are in.
const flotillaVPC = "vpc-flotilla"

// CreateTargetGroup creates an HTTP or HTTPS target group of instance or
// ip targets, with ELBv2's health check defaults for what is left out. A
// second call with the same name and settings returns the same group; with
// other settings it fails with DuplicateTargetGroupName.
func (s *Service) CreateTargetGroup(ctx context.Context, in *wire.CreateTargetGroupInput) (*wire.CreateTargetGroupOutput, error) {
	name := ptr.Deref(in.Name)
	if !elb.ValidName(name) {
		return nil, errValidation("Target group name '%s' must have at most 32 alphanumeric characters or hyphens, and must not begin or end with a hyphen", name)
	}
	tt := in.TargetType
	if tt == "" {
		tt = wire.TargetTypeEnumInstance
	}
	if tt != wire.TargetTypeEnumInstance && tt != wire.TargetTypeEnumIp {
		return nil, errValidation("Target type '%s' is not supported; use 'instance' or 'ip'", tt)
	}
	proto := in.Protocol
	if proto == "" {
		return nil, errValidation("A protocol must be specified")
	}
	if proto != wire.ProtocolEnumHttp && proto != wire.ProtocolEnumHttps {
		return nil, errInvalidConfig("Target group protocol '%s' is not supported; use HTTP or HTTPS", proto)
	}
	if in.Port == nil {
		return nil, errValidation("A port must be specified")
	}
	// Flotilla's target groups are HTTP/1.1 over IPv4 in its one VPC, which
	// is what it describes them with; other values are refused, not dropped.
	if v := ptr.Deref(in.ProtocolVersion); v != "" && !strings.EqualFold(v, "HTTP1") {
		return nil, errValidation("ProtocolVersion '%s' is not supported by Flotilla yet; use HTTP1", v)
	}
	if t := in.IpAddressType; t != "" && t != wire.TargetGroupIpAddressTypeEnumIpv4 {
		return nil, errValidation("IpAddressType '%s' is not supported by Flotilla yet; use ipv4", t)
	}
	if v := ptr.Deref(in.VpcId); v != "" && v != flotillaVPC {
		return nil, errValidation("VPC '%s' does not exist: Flotilla has one VPC, %s", v, flotillaVPC)
	}
	tags, err := tagsFromWire(in.Tags)
	if err != nil {
		return nil, err
	}
	id := newID()
	rec := elb.TargetGroupRecord{
		TargetGroup: lb.TargetGroup{
			ARN:        s.arn("targetgroup/" + name + "/" + id),
			Name:       name,
			Protocol:   string(proto),
			Port:       int(*in.Port),
			TargetType: string(tt),
			HealthCheck: lb.HealthCheck{
				Protocol:                string(proto),
				Port:                    lb.HealthCheckTrafficPort,
				Path:                    lb.DefaultHealthCheckPath,
				IntervalSeconds:         lb.DefaultHealthCheckInterval,
				TimeoutSeconds:          lb.DefaultHealthCheckTimeout,
				HealthyThresholdCount:   lb.DefaultHealthyThresholdCount,
				UnhealthyThresholdCount: lb.DefaultUnhealthyThresholdCount,
				Matcher:                 lb.Matcher{HTTPCode: lb.DefaultMatcherHTTPCode},
			},
			Attributes: elb.DefaultTargetGroupAttributes(),
		},
		HealthCheckEnabled: true,
	}
	if err := applyHealthCheck(&rec, healthCheckInput{
		enabled: in.HealthCheckEnabled, protocol: in.HealthCheckProtocol, port: in.HealthCheckPort, path: in.HealthCheckPath,
		interval: in.HealthCheckIntervalSeconds, timeout: in.HealthCheckTimeoutSeconds,
		healthy: in.HealthyThresholdCount, unhealthy: in.UnhealthyThresholdCount, matcher: in.Matcher,
	}); err != nil {
		return nil, err
	}
	key := elb.TargetGroupKey(name)
	err = s.write(ctx, func() (store.Txn, error) {
		old, _, err := store.GetJSON[elb.TargetGroupRecord](ctx, s.store, key)
		switch {
		case err == nil && sameTargetGroup(old, &rec):
			rec = *old
			return store.Txn{}, nil
		case err == nil:
			return store.Txn{}, errDuplicateTargetGroupName()
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
	return &wire.CreateTargetGroupOutput{TargetGroups: []wire.TargetGroup{targetGroupToWire(&rec, nil)}}, nil
}

// sameTargetGroup reports whether a and b have the same settings.
func sameTargetGroup(a, b *elb.TargetGroupRecord) bool {
	return a.Protocol == b.Protocol && a.Port == b.Port && a.TargetType == b.TargetType &&
		a.HealthCheckEnabled == b.HealthCheckEnabled && reflect.DeepEqual(a.HealthCheck, b.HealthCheck)
}

// healthCheckInput is the health check part of CreateTargetGroup and
// ModifyTargetGroup.
type healthCheckInput struct {
	enabled                               *bool
	protocol                              wire.ProtocolEnum
	port, path                            *string
	interval, timeout, healthy, unhealthy *int32
	matcher                               *wire.Matcher
}

// applyHealthCheck sets the given health check parameters on rec and
// checks the result.
func applyHealthCheck(rec *elb.TargetGroupRecord, in healthCheckInput) error {
	hc := &rec.HealthCheck
	if in.enabled != nil {
		rec.HealthCheckEnabled = *in.enabled
	}
	if in.protocol != "" {
		if in.protocol != wire.ProtocolEnumHttp && in.protocol != wire.ProtocolEnumHttps {
			return errValidation("Health check protocol '%s' is not supported", in.protocol)
		}
		hc.Protocol = string(in.protocol)
	}
	if in.port != nil {
		if p, err := strconv.Atoi(*in.port); *in.port != lb.HealthCheckTrafficPort && (err != nil || p < 1 || p > 65535) {
			return errValidation("Health check port '%s' must be 'traffic-port' or a port from 1 to 65535", *in.port)
		}
		hc.Port = *in.port
	}
	if in.path != nil {
		if len(*in.path) == 0 || (*in.path)[0] != '/' {
			return errValidation("Health check path '%s' must begin with '/'", *in.path)
		}
		hc.Path = *in.path
	}
	if in.interval != nil {
		hc.IntervalSeconds = float64(*in.interval)
	}
	if in.timeout != nil {
		hc.TimeoutSeconds = float64(*in.timeout)
	}
	if in.healthy != nil {
		hc.HealthyThresholdCount = int(*in.healthy)
	}
	if in.unhealthy != nil {
		hc.UnhealthyThresholdCount = int(*in.unhealthy)
	}
	if in.matcher != nil && in.matcher.HttpCode != nil {
		hc.Matcher.HTTPCode = *in.matcher.HttpCode
	}
	if hc.TimeoutSeconds >= hc.IntervalSeconds {
		return errValidation("Health check interval must be greater than the timeout")
	}
	return nil
}

// DescribeTargetGroups describes the target groups named by name or ARN,
// in the request's order, or those a load balancer forwards to, or all of
// them, by name, a page at a time. At most one of the filters may be given.
func (s *Service) DescribeTargetGroups(ctx context.Context, in *wire.DescribeTargetGroupsInput) (*wire.DescribeTargetGroupsOutput, error) {
	filters := 0
	for _, set := range []bool{len(in.Names) > 0, len(in.TargetGroupArns) > 0, in.LoadBalancerArn != nil} {
		if set {
			filters++
		}
	}
	if filters > 1 {
		return nil, errValidation("Only one of load balancer ARN, target group ARNs and names can be specified")
	}
	st, err := elb.ReadState(ctx, s.store)
	if err != nil {
		return nil, err
	}
	byName := map[string]*elb.TargetGroupRecord{}
	byARN := map[string]*elb.TargetGroupRecord{}
	for i := range st.TargetGroups {
		r := &st.TargetGroups[i].Value
		byName[r.Name], byARN[r.ARN] = r, r
	}
	lbsOf := st.LoadBalancersOf()
	var all []keyed[*elb.TargetGroupRecord]
	switch {
	case len(in.Names) > 0:
		for i, n := range in.Names {
			r := byName[n]
			if r == nil {
				return nil, errTargetGroupNotFound()
			}
			all = append(all, keyed[*elb.TargetGroupRecord]{numberKey(i), r})
		}
	case len(in.TargetGroupArns) > 0:
		for i, a := range in.TargetGroupArns {
			r := byARN[a]
			if r == nil {
				return nil, errTargetGroupNotFound()
			}
			all = append(all, keyed[*elb.TargetGroupRecord]{numberKey(i), r})
		}
	case in.LoadBalancerArn != nil:
		if _, _, err := s.getLoadBalancer(ctx, *in.LoadBalancerArn); err != nil {
			return nil, err
		}
		for i := range st.TargetGroups {
			if r := &st.TargetGroups[i].Value; slices.Contains(lbsOf[r.ARN], *in.LoadBalancerArn) {
				all = append(all, keyed[*elb.TargetGroupRecord]{r.Name, r})
			}
		}
	default:
		for i := range st.TargetGroups {
			r := &st.TargetGroups[i].Value
			all = append(all, keyed[*elb.TargetGroupRecord]{r.Name, r})
		}
	}
	recs, next, err := page(all, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &wire.DescribeTargetGroupsOutput{TargetGroups: []wire.TargetGroup{}, NextMarker: next}
	for _, r := range recs {
		out.TargetGroups = append(out.TargetGroups, targetGroupToWire(r, lbsOf[r.ARN]))
	}
	return out, nil
}

// ModifyTargetGroup changes the health check of a target group.
func (s *Service) ModifyTargetGroup(ctx context.Context, in *wire.ModifyTargetGroupInput) (*wire.ModifyTargetGroupOutput, error) {
	var rec *elb.TargetGroupRecord
	err := s.updateTargetGroup(ctx, ptr.Deref(in.TargetGroupArn), func(r *elb.TargetGroupRecord) error {
		rec = r
		return applyHealthCheck(r, healthCheckInput{
			enabled: in.HealthCheckEnabled, protocol: in.HealthCheckProtocol, port: in.HealthCheckPort, path: in.HealthCheckPath,
			interval: in.HealthCheckIntervalSeconds, timeout: in.HealthCheckTimeoutSeconds,
			healthy: in.HealthyThresholdCount, unhealthy: in.UnhealthyThresholdCount, matcher: in.Matcher,
		})
	})
	if err != nil {
		return nil, err
	}
	st, err := elb.ReadState(ctx, s.store)
	if err != nil {
		return nil, err
	}
	return &wire.ModifyTargetGroupOutput{TargetGroups: []wire.TargetGroup{targetGroupToWire(rec, st.LoadBalancersOf()[rec.ARN])}}, nil
}

// updateTargetGroup changes the target group arn with fn, in one
// compare-and-swap.
func (s *Service) updateTargetGroup(ctx context.Context, arn string, fn func(*elb.TargetGroupRecord) error) error {
	return s.write(ctx, func() (store.Txn, error) {
		rec, rev, err := s.getTargetGroup(ctx, arn)
		if err != nil {
			return store.Txn{}, err
		}
		if err := fn(rec); err != nil {
			return store.Txn{}, err
		}
		key := elb.TargetGroupKey(rec.Name)
		op, err := store.PutJSON(key, rec)
		return store.Txn{Compares: []store.Compare{{Key: key, ModRevision: rev}}, Ops: []store.Op{op}}, err
	})
}

// DeleteTargetGroup deletes a target group that no listener or rule
// forwards to (ResourceInUse otherwise). Deleting one that does not exist
// succeeds, as in ELBv2.
func (s *Service) DeleteTargetGroup(ctx context.Context, in *wire.DeleteTargetGroupInput) (*wire.DeleteTargetGroupOutput, error) {
	arn := ptr.Deref(in.TargetGroupArn)
	err := s.write(ctx, func() (store.Txn, error) {
		_, rev, err := s.getTargetGroup(ctx, arn)
		var nf *wire.TargetGroupNotFoundException
		if errors.As(err, &nf) {
			return store.Txn{}, nil
		}
		if err != nil {
			return store.Txn{}, err
		}
		st, err := elb.ReadState(ctx, s.store)
		if err != nil {
			return store.Txn{}, err
		}
		if lbs := st.LoadBalancersOf()[arn]; len(lbs) > 0 {
			return store.Txn{}, errResourceInUse("Target group '%s' is currently in use by a listener or a rule", arn)
		}
		key := elb.TargetGroupKey(resourceName(arn, "targetgroup"))
		return store.Txn{Compares: []store.Compare{{Key: key, ModRevision: rev}}, Ops: []store.Op{{Key: key, Delete: true}, deleteTags(arn)}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.DeleteTargetGroupOutput{}, nil
}

// DescribeTargetGroupAttributes returns the attributes of a target group.
func (s *Service) DescribeTargetGroupAttributes(ctx context.Context, in *wire.DescribeTargetGroupAttributesInput) (*wire.DescribeTargetGroupAttributesOutput, error) {
	rec, _, err := s.getTargetGroup(ctx, ptr.Deref(in.TargetGroupArn))
	if err != nil {
		return nil, err
	}
	return &wire.DescribeTargetGroupAttributesOutput{Attributes: attributesToWire(rec.Attributes)}, nil
}

// ModifyTargetGroupAttributes changes attributes of a target group and
// returns all of them.
func (s *Service) ModifyTargetGroupAttributes(ctx context.Context, in *wire.ModifyTargetGroupAttributesInput) (*wire.ModifyTargetGroupAttributesOutput, error) {
	var attrs map[string]string
	err := s.updateTargetGroup(ctx, ptr.Deref(in.TargetGroupArn), func(r *elb.TargetGroupRecord) error {
		if r.Attributes == nil {
			r.Attributes = elb.DefaultTargetGroupAttributes()
		}
		for _, a := range in.Attributes {
			k, v := ptr.Deref(a.Key), ptr.Deref(a.Value)
			if err := checkAttribute(k, v); err != nil {
				return err
			}
			r.Attributes[k] = v
		}
		attrs = r.Attributes
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.ModifyTargetGroupAttributesOutput{Attributes: attributesToWire(attrs)}, nil
}

// checkAttribute checks a target group attribute by ELBv2's rules.
func checkAttribute(k, v string) error {
	switch known, valid := elb.CheckTargetGroupAttribute(k, v); {
	case !known:
		return errValidation("Target group attribute key '%s' is not recognized", k)
	case !valid:
		return errValidation("Target group attribute '%s' cannot have the value '%s'", k, v)
	}
	return nil
}

func attributesToWire(attrs map[string]string) []wire.TargetGroupAttribute {
	out := []wire.TargetGroupAttribute{}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		out = append(out, wire.TargetGroupAttribute{Key: ptr.To(k), Value: ptr.To(attrs[k])})
	}
	return out
}

func targetGroupToWire(r *elb.TargetGroupRecord, lbs []string) wire.TargetGroup {
	hc := r.HealthCheck
	return wire.TargetGroup{
		TargetGroupArn:             ptr.To(r.ARN),
		TargetGroupName:            ptr.To(r.Name),
		Protocol:                   wire.ProtocolEnum(r.Protocol),
		ProtocolVersion:            ptr.To("HTTP1"),
		Port:                       ptr.To(int32(r.Port)),
		TargetType:                 wire.TargetTypeEnum(r.TargetType),
		IpAddressType:              wire.TargetGroupIpAddressTypeEnumIpv4,
		VpcId:                      ptr.To(flotillaVPC),
		HealthCheckEnabled:         ptr.To(r.HealthCheckEnabled),
		HealthCheckProtocol:        wire.ProtocolEnum(hc.Protocol),
		HealthCheckPort:            ptr.To(hc.Port),
		HealthCheckPath:            ptr.To(hc.Path),
		HealthCheckIntervalSeconds: ptr.To(int32(hc.IntervalSeconds)),
		HealthCheckTimeoutSeconds:  ptr.To(int32(hc.TimeoutSeconds)),
		HealthyThresholdCount:      ptr.To(int32(hc.HealthyThresholdCount)),
		UnhealthyThresholdCount:    ptr.To(int32(hc.UnhealthyThresholdCount)),
		Matcher:                    &wire.Matcher{HttpCode: ptr.To(hc.Matcher.HTTPCode)},
		LoadBalancerArns:           lbs,
	}
}

// RegisterTargets adds targets to a target group; registering a target
// again changes nothing. The IDs of an ip group's targets are IP addresses.
func (s *Service) RegisterTargets(ctx context.Context, in *wire.RegisterTargetsInput) (*wire.RegisterTargetsOutput, error) {
	err := s.updateTargetGroup(ctx, ptr.Deref(in.TargetGroupArn), func(r *elb.TargetGroupRecord) error {
		for _, t := range in.Targets {
			id := ptr.Deref(t.Id)
			if r.TargetType == lb.TargetTypeIP {
				if _, err := netip.ParseAddr(id); err != nil {
					return errInvalidTarget("The IP address '%s' is not a valid IPv4 address", id)
				}
			}
			nt := lb.Target{ID: id, Port: int(ptr.Deref(t.Port))}
			if nt.Port == r.Port {
				nt.Port = 0
			}
			if slices.Contains(r.Targets, nt) {
				continue
			}
			r.Targets = append(r.Targets, nt)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.RegisterTargetsOutput{}, nil
}

// DeregisterTargets removes targets from a target group; a target that is
// not registered is ignored.
func (s *Service) DeregisterTargets(ctx context.Context, in *wire.DeregisterTargetsInput) (*wire.DeregisterTargetsOutput, error) {
	err := s.updateTargetGroup(ctx, ptr.Deref(in.TargetGroupArn), func(r *elb.TargetGroupRecord) error {
		for _, t := range in.Targets {
			gone := lb.Target{ID: ptr.Deref(t.Id), Port: int(ptr.Deref(t.Port))}
			if gone.Port == r.Port {
				gone.Port = 0
			}
			r.Targets = slices.DeleteFunc(r.Targets, func(x lb.Target) bool {
				return x.ID == gone.ID && (x.Port == gone.Port || t.Port == nil)
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.DeregisterTargetsOutput{}, nil
}

// Descriptions of the states the API reports itself.
const (
	descRegistration   = "Target registration is in progress"
	descNotRegistered  = "Target is not registered to the target group"
	descCheckDisabled  = "Health checks are disabled"
	descDeregistration = "Target deregistration is in progress"
)

// DescribeTargetHealth reports the health of the given targets of a group,
// or of all its targets: the data plane's view (Config.Health), initial
// while it has none, unavailable when health checks are disabled, draining
// for a deregistered target the data plane still lists, whatever the
// nodes say of it (listed with all targets, as ELBv2 lists them), unused
// for a target that is not registered.
func (s *Service) DescribeTargetHealth(ctx context.Context, in *wire.DescribeTargetHealthInput) (*wire.DescribeTargetHealthOutput, error) {
	rec, _, err := s.getTargetGroup(ctx, ptr.Deref(in.TargetGroupArn))
	if err != nil {
		return nil, err
	}
	portOf := func(t lb.Target) int {
		if t.Port == 0 {
			return rec.Port
		}
		return t.Port
	}
	observed := map[string]lb.TargetHealth{}
	var draining []lb.Target // observed draining and no longer registered
	if s.health != nil {
		hs, err := s.health(ctx, rec.ARN)
		if err != nil {
			return nil, fmt.Errorf("target health of %s: %w", rec.ARN, err)
		}
		for _, h := range hs {
			t := lb.Target{ID: h.Target.ID, Port: portOf(h.Target)}
			observed[t.ID+":"+strconv.Itoa(t.Port)] = h
			if !slices.ContainsFunc(rec.Targets, func(r lb.Target) bool { return r.ID == t.ID && portOf(r) == t.Port }) {
				draining = append(draining, t)
			}
		}
	}
	describe := func(id string, port int, registered bool) wire.TargetHealthDescription {
		hcPort := rec.HealthCheck.Port
		if hcPort == lb.HealthCheckTrafficPort || hcPort == "" {
			hcPort = strconv.Itoa(port)
		}
		th := &wire.TargetHealth{State: wire.TargetHealthStateEnumInitial, Reason: wire.TargetHealthReasonEnumElbRegistrationInProgress, Description: ptr.To(descRegistration)}
		switch h, ok := observed[id+":"+strconv.Itoa(port)]; {
		case !registered && ok:
			th = &wire.TargetHealth{State: wire.TargetHealthStateEnumDraining, Reason: wire.TargetHealthReasonEnumTargetDeregistrationInProgress, Description: ptr.To(descDeregistration)}
		case !registered:
			th = &wire.TargetHealth{State: wire.TargetHealthStateEnumUnused, Reason: wire.TargetHealthReasonEnumTargetNotRegistered, Description: ptr.To(descNotRegistered)}
		case !rec.HealthCheckEnabled:
			th = &wire.TargetHealth{State: wire.TargetHealthStateEnumUnavailable, Reason: wire.TargetHealthReasonEnumTargetHealthCheckDisabled, Description: ptr.To(descCheckDisabled)}
		case ok:
			th = &wire.TargetHealth{State: wire.TargetHealthStateEnum(h.State), Reason: wire.TargetHealthReasonEnum(h.Reason)}
			if h.Description != "" {
				th.Description = ptr.To(h.Description)
			}
		}
		return wire.TargetHealthDescription{
			Target:          &wire.TargetDescription{Id: ptr.To(id), Port: ptr.To(int32(port))},
			HealthCheckPort: ptr.To(hcPort),
			TargetHealth:    th,
		}
	}
	out := &wire.DescribeTargetHealthOutput{TargetHealthDescriptions: []wire.TargetHealthDescription{}}
	if len(in.Targets) == 0 {
		for _, t := range rec.Targets {
			out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, describe(t.ID, portOf(t), true))
		}
		for _, t := range draining {
			out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, describe(t.ID, t.Port, false))
		}
		return out, nil
	}
	for _, t := range in.Targets {
		id := ptr.Deref(t.Id)
		port := int(ptr.Deref(t.Port))
		if t.Port == nil {
			// The first registration of the target, or the group's port.
			port = rec.Port
			for _, r := range rec.Targets {
				if r.ID == id {
					port = portOf(r)
					break
				}
			}
		}
		registered := slices.ContainsFunc(rec.Targets, func(r lb.Target) bool { return r.ID == id && portOf(r) == port })
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, describe(id, port, registered))
	}
	return out, nil
}
