package elbv2

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

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
	if !validName(name) {
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

// DescribeLoadBalancers describes the named load balancers, in the
// request's order, or all of them by name, a page at a time;
// LoadBalancerNotFound when one of those named does not exist.
func (s *Service) DescribeLoadBalancers(ctx context.Context, in *wire.DescribeLoadBalancersInput) (*wire.DescribeLoadBalancersOutput, error) {
	if len(in.Names) > 0 && len(in.LoadBalancerArns) > 0 {
		return nil, errValidation("Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	var all []keyed[*loadBalancerRecord]
	switch {
	case len(in.Names) > 0:
		for i, name := range in.Names {
			rec, _, err := get(ctx, s.store, prefixLoadBalancer+name, "",
				func(r *loadBalancerRecord) string { return r.ARN }, errLoadBalancerNotFound)
			if err != nil {
				return nil, err
			}
			all = append(all, keyed[*loadBalancerRecord]{numberKey(i), rec})
		}
	case len(in.LoadBalancerArns) > 0:
		for i, arn := range in.LoadBalancerArns {
			rec, _, err := s.getLoadBalancer(ctx, arn)
			if err != nil {
				return nil, err
			}
			all = append(all, keyed[*loadBalancerRecord]{numberKey(i), rec})
		}
	default:
		items, err := list[loadBalancerRecord](ctx, s.store, prefixLoadBalancer)
		if err != nil {
			return nil, err
		}
		for i := range items {
			all = append(all, keyed[*loadBalancerRecord]{items[i].Value.Name, &items[i].Value})
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
	listeners, err := list[listenerRecord](ctx, s.store, prefixListener)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(listeners, func(a, b store.Item[listenerRecord]) int { return cmp.Compare(a.Value.Port, b.Value.Port) })
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
		if rec.attributes()[attrDeletionProtection] == "true" {
			return store.Txn{}, errOperationNotPermitted("Load balancer '%s' cannot be deleted because deletion protection is enabled", arn)
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
				portOps, err := s.releasePort(ctx, &l.Value)
				if err != nil {
					return store.Txn{}, err
				}
				txn.Ops = append(txn.Ops, portOps...)
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

// Load balancer attributes the service acts on.
const (
	attrDeletionProtection = "deletion_protection.enabled"
	attrAccessLogsEnabled  = "access_logs.s3.enabled"
	attrAccessLogsBucket   = "access_logs.s3.bucket"
)

// loadBalancerAttribute is an attribute of an application load balancer:
// its default and the check of its values.
type loadBalancerAttribute struct {
	def   string
	valid func(v string) bool
}

func isBool(v string) bool { return v == "true" || v == "false" }

func anyValue(string) bool { return true }

func intRange(lo, hi int) func(string) bool {
	return func(v string) bool { n, err := strconv.Atoi(v); return err == nil && n >= lo && n <= hi }
}

func oneOf(values ...string) func(string) bool {
	return func(v string) bool { return slices.Contains(values, v) }
}

// idleTimeoutAttribute is the attribute the load balancer nodes apply to
// client connections (lb.LoadBalancer.IdleTimeoutSeconds).
const idleTimeoutAttribute = "idle_timeout.timeout_seconds"

// loadBalancerAttributes are the attributes of an application load
// balancer, with ELBv2's defaults and ranges. Only deletion protection
// takes effect; the others are kept and reported.
var loadBalancerAttributes = map[string]loadBalancerAttribute{
	attrAccessLogsEnabled:                                      {"false", isBool},
	attrAccessLogsBucket:                                       {"", anyValue},
	"access_logs.s3.prefix":                                    {"", anyValue},
	"connection_logs.s3.enabled":                               {"false", isBool},
	"connection_logs.s3.bucket":                                {"", anyValue},
	"connection_logs.s3.prefix":                                {"", anyValue},
	"client_keep_alive.seconds":                                {"3600", intRange(60, 604800)},
	attrDeletionProtection:                                     {"false", isBool},
	idleTimeoutAttribute:                                       {"60", intRange(1, 4000)},
	"load_balancing.cross_zone.enabled":                        {"true", oneOf("true")}, // always on for ALBs
	"routing.http.desync_mitigation_mode":                      {"defensive", oneOf("monitor", "defensive", "strictest")},
	"routing.http.drop_invalid_header_fields.enabled":          {"false", isBool},
	"routing.http.preserve_host_header.enabled":                {"false", isBool},
	"routing.http.x_amzn_tls_version_and_cipher_suite.enabled": {"false", isBool},
	"routing.http.xff_client_port.enabled":                     {"false", isBool},
	"routing.http.xff_header_processing.mode":                  {"append", oneOf("append", "preserve", "remove")},
	"routing.http2.enabled":                                    {"true", isBool},
	"waf.fail_open.enabled":                                    {"false", isBool},
	"zonal_shift.config.enabled":                               {"false", isBool},
}

// attributes returns every attribute of the load balancer: those set,
// the defaults for the others.
func (r *loadBalancerRecord) attributes() map[string]string {
	out := make(map[string]string, len(loadBalancerAttributes))
	for k, a := range loadBalancerAttributes {
		out[k] = a.def
	}
	maps.Copy(out, r.Attributes)
	return out
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
	return &wire.DescribeLoadBalancerAttributesOutput{Attributes: loadBalancerAttributesToWire(rec.attributes())}, nil
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
		attr, ok := loadBalancerAttributes[k]
		switch {
		case !ok:
			return nil, errValidation("Load balancer attribute key '%s' is not recognized", k)
		case k == "load_balancing.cross_zone.enabled" && v == "false":
			return nil, errInvalidConfig("Cross-zone load balancing cannot be disabled for application load balancers")
		case !attr.valid(v):
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
		attrs = rec.attributes()
		if attrs[attrAccessLogsEnabled] == "true" && attrs[attrAccessLogsBucket] == "" {
			return store.Txn{}, errValidation("The value of '%s' cannot be empty when access logs are enabled", attrAccessLogsBucket)
		}
		key := prefixLoadBalancer + rec.Name
		op, err := store.PutJSON(key, rec)
		return store.Txn{Compares: []store.Compare{{Key: key, ModRevision: rev}}, Ops: []store.Op{op}}, err
	})
	if err != nil {
		return nil, err
	}
	return &wire.ModifyLoadBalancerAttributesOutput{Attributes: loadBalancerAttributesToWire(attrs)}, nil
}

func (s *Service) loadBalancerToWire(r *loadBalancerRecord) wire.LoadBalancer {
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
