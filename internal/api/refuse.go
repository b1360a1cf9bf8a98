package api

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/flotilla/flotilla/internal/model"
)

// Refusals lists the members of a service's input shapes that Flotilla
// accepts in the model but does not honour yet, so that a request setting
// one is refused rather than run without it. Keys are "Shape.member": the
// generated Go type's name (the model's shape name) and the member's name on
// the wire.
//
// A member counts as set when it holds anything but its zero value or one
// of the Refusal's Allow values: a present structure, a non-empty list or
// map, a non-empty string, a number other than 0, true. So
// enableExecuteCommand=false, the default, passes and true is refused.
type Refusals map[string]Refusal

// Refusal says why a member is refused.
type Refusal struct {
	// Why says what is missing, for the client, such as "secrets are not
	// injected into containers yet".
	Why string
	// Allow lists the string values that are what Flotilla does anyway
	// (propagateTags NONE) and so pass.
	Allow []string
}

// Check returns a *model.ValidationError naming, by its path on the wire
// (containerDefinitions[0].secrets), every member of in that r refuses and
// in sets, or nil. in is a pointer to a generated input structure.
func (r Refusals) Check(in any) error {
	if len(r) == 0 {
		return nil
	}
	var e model.ValidationError
	r.walk(reflect.ValueOf(in), "", &e)
	return e.Err()
}

func (r Refusals) walk(v reflect.Value, path string, e *model.ValidationError) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			r.walk(v.Elem(), path, e)
		}
	case reflect.Slice, reflect.Array:
		if !r.plan(v.Type().Elem()).reaches {
			return
		}
		for i := range v.Len() {
			r.walk(v.Index(i), model.IndexPath(path, i), e)
		}
	case reflect.Map:
		if !r.plan(v.Type().Elem()).reaches {
			return
		}
		for it := v.MapRange(); it.Next(); {
			r.walk(it.Value(), model.KeyPath(path, fmt.Sprint(it.Key().Interface())), e)
		}
	case reflect.Struct:
		for _, f := range r.plan(v.Type()).fields {
			fv := v.Field(f.index)
			p := model.JoinPath(path, f.wire)
			if f.refused != nil {
				if set(fv, f.refused.Allow) {
					e.Add(p, "is not supported by Flotilla yet: "+f.refused.Why)
				}
				continue
			}
			r.walk(fv, p, e)
		}
	}
}

// set reports whether v holds anything but its zero value or a string in
// allow.
func set(v reflect.Value, allow []string) bool {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return false
		}
		if v.Elem().Kind() == reflect.Struct {
			return true
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() > 0
	case reflect.String:
		return v.Len() > 0 && !slices.Contains(allow, v.String())
	}
	return !v.IsZero()
}

// typePlan is what Check looks at in values of a type.
type typePlan struct {
	reaches bool        // the type contains a refused member
	fields  []fieldPlan // structures: the fields to look at
}

type fieldPlan struct {
	index   int
	wire    string
	refused *Refusal // if the member is refused
}

// plans caches the plans of every Refusals by type, keyed by the map's
// identity: the tables are package-level variables that never change.
var plans sync.Map // planKey → *typePlan

type planKey struct {
	r uintptr // the map
	t reflect.Type
}

func (r Refusals) plan(t reflect.Type) *typePlan {
	key := planKey{reflect.ValueOf(r).Pointer(), t}
	if p, ok := plans.Load(key); ok {
		return p.(*typePlan)
	}
	p := r.build(t, map[reflect.Type]*typePlan{})
	plans.Store(key, p)
	return p
}

// build works out the plan of t; building records the plans under way, so
// that recursive types end.
func (r Refusals) build(t reflect.Type, building map[reflect.Type]*typePlan) *typePlan {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p, ok := building[t]; ok {
		return p
	}
	p := &typePlan{}
	building[t] = p
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		p.reaches = r.build(t.Elem(), building).reaches
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			wire := WireName(f)
			if wire == "" {
				continue
			}
			if why, ok := r[t.Name()+"."+wire]; ok {
				p.fields = append(p.fields, fieldPlan{index: i, wire: wire, refused: &why})
				p.reaches = true
				continue
			}
			if r.build(f.Type, building).reaches {
				p.fields = append(p.fields, fieldPlan{index: i, wire: wire})
				p.reaches = true
			}
		}
	}
	return p
}

// WireName returns the name on the wire of a field of a generated
// structure (from its json tag), or "" for a field that is not a member.
func WireName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// InputMembers returns, sorted, the members ("Shape.member", as Refusals
// names them) of the structures that values of the types contain, the
// types included: every member a request of operations with these inputs
// can set. It does not descend below the members that refused lists, whose
// contents a request cannot set without being refused.
func InputMembers(refused Refusals, types ...reflect.Type) []string {
	seen := map[reflect.Type]bool{}
	set := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == timeType || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			wire := WireName(f)
			if wire == "" {
				continue
			}
			key := t.Name() + "." + wire
			set[key] = true
			if _, ok := refused[key]; !ok {
				walk(f.Type)
			}
		}
	}
	for _, t := range types {
		walk(t)
	}
	return slices.Sorted(maps.Keys(set))
}

// Coverage checks a service's reviewed lists of input members, the ones
// its handlers honour and the ones it refuses, against the inputs of its
// operations. It returns the members that neither list names (missing),
// the names on the lists that are no member (stale), and the names on both
// lists.
func Coverage(inputs []reflect.Type, handled []string, refused Refusals) (missing, stale, both []string) {
	members := InputMembers(refused, inputs...)
	all := InputMembers(nil, inputs...)
	isHandled := map[string]bool{}
	for _, h := range handled {
		isHandled[h] = true
		if _, ok := refused[h]; ok {
			both = append(both, h)
		}
	}
	for _, m := range members {
		if _, ok := refused[m]; !ok && !isHandled[m] {
			missing = append(missing, m)
		}
	}
	listed := slices.Concat(handled, slices.Collect(maps.Keys(refused)))
	slices.Sort(listed)
	for _, name := range slices.Compact(listed) {
		if _, ok := slices.BinarySearch(all, name); !ok {
			stale = append(stale, name)
		}
	}
	slices.Sort(both)
	return missing, stale, both
}
