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
	w := walker{r: r, plans: plansOf(r)}
	w.walk(reflect.ValueOf(in))
	return w.e.Err()
}

// walker is one Check: the path to the value it is at, kept as segments and
// only written out for a refused member.
type walker struct {
	r     Refusals
	plans *sync.Map // reflect.Type → *typePlan
	path  []segment
	e     model.ValidationError
}

// segment is a member's wire name, a list index or a map key.
type segment struct {
	name  string
	index int    // list elements: the index; -1 otherwise
	key   string // map values: the key
	isKey bool
}

func (w *walker) pathString() string {
	p := ""
	for _, s := range w.path {
		switch {
		case s.isKey:
			p = model.KeyPath(p, s.key)
		case s.index >= 0:
			p = model.IndexPath(p, s.index)
		default:
			p = model.JoinPath(p, s.name)
		}
	}
	return p
}

func (w *walker) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		if !w.plan(v.Type().Elem()).reaches {
			return
		}
		for i := range v.Len() {
			w.path = append(w.path, segment{index: i})
			w.walk(v.Index(i))
			w.path = w.path[:len(w.path)-1]
		}
	case reflect.Map:
		if !w.plan(v.Type().Elem()).reaches {
			return
		}
		for it := v.MapRange(); it.Next(); {
			w.path = append(w.path, segment{index: -1, key: fmt.Sprint(it.Key().Interface()), isKey: true})
			w.walk(it.Value())
			w.path = w.path[:len(w.path)-1]
		}
	case reflect.Struct:
		for _, f := range w.plan(v.Type()).fields {
			fv := v.Field(f.index)
			w.path = append(w.path, segment{name: f.wire, index: -1})
			if f.refused != nil {
				if set(fv, f.refused.Allow) {
					w.e.Add(w.pathString(), "is not supported by Flotilla yet: "+f.refused.Why)
				}
			} else {
				w.walk(fv)
			}
			w.path = w.path[:len(w.path)-1]
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

// plans caches, for every Refusals (by the map's identity: the tables are
// package-level variables that never change), the plans of the types
// checked.
var plans sync.Map // uintptr → *sync.Map of reflect.Type → *typePlan

func plansOf(r Refusals) *sync.Map {
	key := reflect.ValueOf(r).Pointer()
	if m, ok := plans.Load(key); ok {
		return m.(*sync.Map)
	}
	m, _ := plans.LoadOrStore(key, new(sync.Map))
	return m.(*sync.Map)
}

func (w *walker) plan(t reflect.Type) *typePlan {
	if p, ok := w.plans.Load(t); ok {
		return p.(*typePlan)
	}
	p := w.r.build(t, map[reflect.Type]*typePlan{})
	w.plans.Store(t, p)
	return p
}

// recursive is what build answers for a type it is building already.
var recursive = &typePlan{reaches: true}

// build works out the plan of t; building records the types under way, so
// that recursive types end.
func (r Refusals) build(t reflect.Type, building map[reflect.Type]*typePlan) *typePlan {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, ok := building[t]; ok {
		// A type that contains itself: assume it reaches a refusal, so
		// that the walk goes in and finds out from the type's full plan.
		return recursive
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

// CoverageProblems is Coverage as sentences naming the service, one a
// problem, for a service's test of its fields.go to report.
func CoverageProblems(service string, inputs []reflect.Type, handled []string, refused Refusals) []string {
	missing, stale, both := Coverage(inputs, handled, refused)
	var out []string
	for _, m := range missing {
		out = append(out, m+" is neither handled nor refused: honour it and add it to handled, or refuse it, in fields.go")
	}
	for _, m := range stale {
		out = append(out, "fields.go lists "+m+", which is no member of an "+service+" input")
	}
	for _, m := range both {
		out = append(out, "fields.go lists "+m+" as both handled and refused")
	}
	return out
}

// InputTypes returns the input structures of the service's operations.
func (svc JSONService) InputTypes() []reflect.Type {
	var out []reflect.Type
	for _, op := range svc.Operations {
		out = append(out, op.InputType())
	}
	return out
}

// InputTypes returns the input structures of the service's operations.
func (svc QueryService) InputTypes() []reflect.Type {
	var out []reflect.Type
	for _, op := range svc.Operations {
		out = append(out, op.InputType())
	}
	return out
}
