package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

func tagsFromWire(in []wire.Tag) []flotilla.Tag {
	if len(in) == 0 {
		return nil
	}
	out := make([]flotilla.Tag, len(in))
	for i, t := range in {
		out[i] = flotilla.Tag{Key: ptr.Deref(t.Key), Value: ptr.Deref(t.Value)}
	}
	return out
}

func tagsToWire(in []flotilla.Tag) []wire.Tag {
	out := make([]wire.Tag, len(in))
	for i, t := range in {
		out[i] = wire.Tag{Key: ptr.To(t.Key), Value: ptr.To(t.Value)}
	}
	return out
}

// rawJSON encodes v for a domain record's pass-through field; nil stays nil.
func rawJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" || string(b) == "[]" || string(b) == "{}" {
		return nil
	}
	return b
}

// fromRaw decodes a pass-through field into its wire type.
func fromRaw[T any](raw json.RawMessage) T {
	var v T
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &v) // written by rawJSON from the same type
	}
	return v
}

func resourcesFromWire(in []wire.Resource) []flotilla.Resource {
	out := make([]flotilla.Resource, len(in))
	for i, r := range in {
		out[i] = flotilla.Resource{Name: ptr.Deref(r.Name), Type: ptr.Deref(r.Type), StringSetValue: r.StringSetValue}
		if r.IntegerValue != nil {
			out[i].IntegerValue = *r.IntegerValue
		}
		if r.LongValue != nil {
			out[i].LongValue = *r.LongValue
		}
		if r.DoubleValue != nil {
			out[i].DoubleValue = *r.DoubleValue
		}
	}
	return out
}

func resourcesToWire(in []flotilla.Resource) []wire.Resource {
	out := make([]wire.Resource, len(in))
	for i, r := range in {
		w := wire.Resource{Name: ptr.To(r.Name), Type: ptr.To(r.Type), IntegerValue: ptr.To(r.IntegerValue),
			LongValue: ptr.To(r.LongValue), DoubleValue: ptr.To(r.DoubleValue)}
		if r.Type == "STRINGSET" {
			w.StringSetValue = append([]string{}, r.StringSetValue...)
		}
		out[i] = w
	}
	return out
}

// putJSON is a store put of v encoded as JSON; domain records always encode.
func putJSON(key string, v any) store.Op {
	b, err := json.Marshal(v)
	if err != nil {
		panic("encode " + key + ": " + err.Error())
	}
	return store.Op{Key: key, Value: b}
}

// describe looks up each reference with get and converts what it finds;
// a reference get answers with a domain error (not found, malformed) comes
// back as a MISSING failure named by arnOf, as ECS's Describe operations do.
func describe[T, W any](refs []string, get func(ref string) (*T, error), arnOf func(ref string) string, conv func(*T) W) ([]W, []wire.Failure, error) {
	found, failures := []W{}, []wire.Failure{}
	for _, ref := range refs {
		v, err := get(ref)
		var de *flotilla.Error
		if errors.As(err, &de) {
			failures = append(failures, wire.Failure{Arn: ptr.To(arnOf(ref)), Reason: ptr.To("MISSING")})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		found = append(found, conv(v))
	}
	return found, failures, nil
}

// arnOr returns ref when it is an ARN, and otherwise the ARN that build
// makes of it.
func arnOr(ref string, build func(string) string) string {
	if _, ok := flotilla.ParseARN(ref); ok {
		return ref
	}
	return build(ref)
}

// update changes the record at key with store.Update's compare-and-swap:
// check refuses a missing (nil) or unfit record with a domain error, mutate
// changes it; both run again on a conflict.
func update[T any](ctx context.Context, st store.Store, key string, check, mutate func(*T) error) (*T, error) {
	v, _, err := store.Update(ctx, st, key, func(cur *T) (*T, error) {
		if err := check(cur); err != nil {
			return nil, err
		}
		if err := mutate(cur); err != nil {
			return nil, err
		}
		return cur, nil
	})
	return v, err
}

// wireTime is a wire timestamp as a time, zero for none.
func wireTime(t *model.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

// containerChange is an agent's report of one container in the domain's
// terms.
func containerChange(name, runtimeID, status string, exitCode *int32, reason string, nb []wire.NetworkBinding) flotilla.ContainerStateChange {
	ch := flotilla.ContainerStateChange{Name: name, RuntimeID: runtimeID, Status: status, Reason: reason}
	if exitCode != nil {
		v := int(*exitCode)
		ch.ExitCode = &v
	}
	for _, b := range nb {
		ch.NetworkBindings = append(ch.NetworkBindings, flotilla.NetworkBinding{
			BindIP: ptr.Deref(b.BindIP), ContainerPort: int(ptr.Deref(b.ContainerPort)), HostPort: int(ptr.Deref(b.HostPort)), Protocol: string(b.Protocol)})
	}
	return ch
}

func placementConstraintsFromWire(in []wire.PlacementConstraint) []flotilla.PlacementConstraint {
	var out []flotilla.PlacementConstraint
	for _, c := range in {
		out = append(out, flotilla.PlacementConstraint{Type: string(c.Type), Expression: ptr.Deref(c.Expression)})
	}
	return out
}

func placementConstraintsToWire(in []flotilla.PlacementConstraint) []wire.PlacementConstraint {
	out := make([]wire.PlacementConstraint, 0, len(in))
	for _, c := range in {
		out = append(out, wire.PlacementConstraint{Type: wire.PlacementConstraintType(c.Type), Expression: optional(c.Expression)})
	}
	return out
}

func placementStrategiesFromWire(in []wire.PlacementStrategy) []flotilla.PlacementStrategy {
	var out []flotilla.PlacementStrategy
	for _, st := range in {
		out = append(out, flotilla.PlacementStrategy{Type: string(st.Type), Field: ptr.Deref(st.Field)})
	}
	return out
}

func placementStrategiesToWire(in []flotilla.PlacementStrategy) []wire.PlacementStrategy {
	out := make([]wire.PlacementStrategy, 0, len(in))
	for _, st := range in {
		out = append(out, wire.PlacementStrategy{Type: wire.PlacementStrategyType(st.Type), Field: optional(st.Field)})
	}
	return out
}

// loadBalancersFromWire keeps what a service records of its loadBalancers;
// checkLoadBalancers has refused the rest (loadBalancerName).
func loadBalancersFromWire(in []wire.LoadBalancer) []flotilla.ServiceLoadBalancer {
	var out []flotilla.ServiceLoadBalancer
	for _, l := range in {
		out = append(out, flotilla.ServiceLoadBalancer{TargetGroupARN: ptr.Deref(l.TargetGroupArn), ContainerName: ptr.Deref(l.ContainerName), ContainerPort: int(ptr.Deref(l.ContainerPort))})
	}
	return out
}

func loadBalancersToWire(in []flotilla.ServiceLoadBalancer) []wire.LoadBalancer {
	out := make([]wire.LoadBalancer, 0, len(in))
	for _, l := range in {
		out = append(out, wire.LoadBalancer{TargetGroupArn: optional(l.TargetGroupARN), ContainerName: optional(l.ContainerName), ContainerPort: ptr.To(int32(l.ContainerPort))})
	}
	return out
}

// optional is a wire string that is left out when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// taskSpec is what tasks of a definition are made from, with a run's
// overrides, in the domain's terms.
func taskSpec(td *wire.TaskDefinition, ov *wire.TaskOverride) flotilla.TaskSpec {
	spec := flotilla.TaskSpec{CPU: ptr.Deref(td.Cpu), Memory: ptr.Deref(td.Memory)}
	for _, c := range td.ContainerDefinitions {
		cs := flotilla.ContainerSpec{Name: ptr.Deref(c.Name), Image: ptr.Deref(c.Image), Essential: c.Essential == nil || *c.Essential,
			CPU: int(ptr.Deref(c.Cpu)), Memory: int(ptr.Deref(c.Memory)), MemoryReservation: int(ptr.Deref(c.MemoryReservation)), HealthCheck: c.HealthCheck != nil}
		for _, pm := range c.PortMappings {
			cs.HostPorts = append(cs.HostPorts, flotilla.HostPort{Port: int(ptr.Deref(pm.HostPort)), UDP: pm.Protocol == wire.TransportProtocolUdp})
		}
		spec.Containers = append(spec.Containers, cs)
	}
	if ov == nil {
		return spec
	}
	spec.Overrides = flotilla.TaskOverrides{CPU: ptr.Deref(ov.Cpu), Memory: ptr.Deref(ov.Memory)}
	for _, co := range ov.ContainerOverrides {
		o := flotilla.ContainerOverride{Name: ptr.Deref(co.Name)}
		if co.Cpu != nil {
			o.CPU = ptr.To(int(*co.Cpu))
		}
		if co.Memory != nil {
			o.Memory = ptr.To(int(*co.Memory))
		}
		if co.MemoryReservation != nil {
			o.MemoryReservation = ptr.To(int(*co.MemoryReservation))
		}
		spec.Overrides.Containers = append(spec.Overrides.Containers, o)
	}
	return spec
}
