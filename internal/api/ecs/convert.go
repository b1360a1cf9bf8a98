package ecs

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/flotilla/flotilla"
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
