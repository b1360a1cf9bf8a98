package model

import (
	"cmp"
	"encoding/base64"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// QueryNode is the parameters of an AWS query-protocol request (the form of
// Action=CreateLoadBalancer&Name=lb&Subnets.member.1=a&Tags.member.1.Key=k...)
// as a tree of their dotted names: Tags.member.1.Key=k is the node Tags,
// whose child member has a child 1 with a child Key of value k. The
// generated UnmarshalQuery methods walk it, so that they read each parameter
// once whatever the order of the form, and never see the ones they do not
// know.
type QueryNode struct {
	key      string // the parameter's full name, such as "Tags.member.1.Key"
	value    string
	hasValue bool
	children []*QueryNode // sorted by name
}

// maxQueryDepth is the most dotted segments a parameter name may have:
// deeper than any model's inputs go (ELBv2's deepest, in ModifyRule, have
// 10), and
// shallow enough that a form of url.ParseQuery's at most 10000 parameters
// makes a tree of at most 320000 nodes.
const maxQueryDepth = 32

// ParseQuery returns the tree of form's parameters, ignoring names of more
// than 32 dotted segments, which no model has. A parameter sent several
// times keeps its first value, as url.Values.Get does. ParseQuery takes
// time in proportion to the size of the form, and a small node per dotted
// segment of a name (children are sorted slices, not maps), so that the
// tree of a form of many tiny names costs about what the form costs.
func ParseQuery(form url.Values) *QueryNode {
	type edge struct {
		parent *QueryNode
		name   string
	}
	root := &QueryNode{}
	nodes := make(map[edge]*QueryNode, len(form)) // while building
	var parents []*QueryNode
	for key, values := range form {
		if strings.Count(key, ".") >= maxQueryDepth {
			continue
		}
		n := root
		for start := 0; ; {
			end := strings.IndexByte(key[start:], '.')
			if end < 0 {
				end = len(key)
			} else {
				end += start
			}
			e := edge{n, key[start:end]}
			c := nodes[e]
			if c == nil {
				c = &QueryNode{key: key[:end]}
				nodes[e] = c
				if len(n.children) == 0 {
					parents = append(parents, n)
				}
				n.children = append(n.children, c)
			}
			n = c
			if end == len(key) {
				break
			}
			start = end + 1
		}
		if len(values) > 0 {
			n.value, n.hasValue = values[0], true
		}
	}
	for _, p := range parents {
		slices.SortFunc(p.children, func(a, b *QueryNode) int { return strings.Compare(a.name(), b.name()) })
	}
	return root
}

// name returns the last segment of n's key.
func (n *QueryNode) name() string { return n.key[strings.LastIndexByte(n.key, '.')+1:] }

// Child returns the node of the parameters under n's name followed by "."
// and name, or nil if there are none. It is nil-safe.
func (n *QueryNode) Child(name string) *QueryNode {
	if n == nil {
		return nil
	}
	i, ok := slices.BinarySearchFunc(n.children, name, func(c *QueryNode, name string) int {
		return strings.Compare(c.name(), name)
	})
	if !ok {
		return nil
	}
	return n.children[i]
}

// Key returns the parameter name of n, such as "Tags.member.1.Key"; it is
// the path of the validation errors about n.
func (n *QueryNode) Key() string { return n.key }

// Value returns the value of the parameter that is exactly n's name, and
// whether there is one.
func (n *QueryNode) Value() (string, bool) {
	if n == nil {
		return "", false
	}
	return n.value, n.hasValue
}

// A QueryDecoder decodes the value of a node: it returns ok false when there
// is no value, and when the value is not of the right type, after adding the
// problem to e. Every one of them accepts a nil node, as absent.
type QueryDecoder[T any] func(n *QueryNode, e *ValidationError) (v T, ok bool)

// QueryOptional decodes the value of n with dec, for a structure field:
// nil when the value is absent or invalid.
func QueryOptional[T any](n *QueryNode, e *ValidationError, dec QueryDecoder[T]) *T {
	if v, ok := dec(n, e); ok {
		return &v
	}
	return nil
}

// QueryValue is QueryOptional for fields that are not pointers (enums and
// blobs): the zero value when absent or invalid.
func QueryValue[T any](n *QueryNode, e *ValidationError, dec QueryDecoder[T]) T {
	v, _ := dec(n, e)
	return v
}

// QueryString decodes a string, or a string enum (whose values Validate
// checks later).
func QueryString[T ~string](n *QueryNode, _ *ValidationError) (T, bool) {
	if n == nil || !n.hasValue {
		return "", false
	}
	return T(n.value), true
}

// QueryBool decodes a boolean: true or false.
func QueryBool(n *QueryNode, e *ValidationError) (bool, bool) {
	if n == nil || !n.hasValue {
		return false, false
	}
	switch {
	case strings.EqualFold(n.value, "true"):
		return true, true
	case strings.EqualFold(n.value, "false"):
		return false, true
	}
	e.Add(n.key, "must be a boolean (true or false)")
	return false, false
}

// QueryInt32 decodes an integer of the model (32 bits).
func QueryInt32(n *QueryNode, e *ValidationError) (int32, bool) {
	if n == nil || !n.hasValue {
		return 0, false
	}
	i, err := strconv.ParseInt(n.value, 10, 32)
	if err != nil {
		e.Add(n.key, "must be an integer from -2147483648 to 2147483647")
		return 0, false
	}
	return int32(i), true
}

// QueryInt64 decodes a long of the model (64 bits).
func QueryInt64(n *QueryNode, e *ValidationError) (int64, bool) {
	if n == nil || !n.hasValue {
		return 0, false
	}
	i, err := strconv.ParseInt(n.value, 10, 64)
	if err != nil {
		e.Add(n.key, "must be an integer from -9223372036854775808 to 9223372036854775807")
		return 0, false
	}
	return i, true
}

// QueryFloat64 decodes a float or a double: a decimal number, or NaN,
// Infinity or -Infinity as AWS's protocols write them.
func QueryFloat64(n *QueryNode, e *ValidationError) (float64, bool) {
	if n == nil || !n.hasValue {
		return 0, false
	}
	switch n.value {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		return math.Inf(1), true
	case "-Infinity":
		return math.Inf(-1), true
	}
	f, err := strconv.ParseFloat(n.value, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		e.Add(n.key, "must be a number")
		return 0, false
	}
	return f, true
}

// QueryTime decodes a timestamp. The query protocol sends ISO 8601
// (2026-01-01T00:00:00Z, with or without fractional seconds, in any zone);
// epoch seconds and HTTP dates, the model's other timestamp formats, are
// accepted too.
func QueryTime(n *QueryNode, e *ValidationError) (Time, bool) {
	if n == nil || !n.hasValue {
		return Time{}, false
	}
	v := n.value
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return Time{t.UTC()}, true
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) < 1e11 {
		sec, frac := math.Modf(f)
		return Time{time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()}, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return Time{t.UTC()}, true
	}
	e.Add(n.key, "must be a timestamp in ISO 8601 format, such as 2026-01-01T00:00:00Z")
	return Time{}, false
}

// QueryBlob decodes a blob, sent base64-encoded.
func QueryBlob(n *QueryNode, e *ValidationError) ([]byte, bool) {
	if n == nil || !n.hasValue {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(n.value)
	if err != nil {
		e.Add(n.key, "must be base64-encoded")
		return nil, false
	}
	return b, true
}

// QueryList decodes a list: the elements n.<member>.1, n.<member>.2, ...
// (n.1, n.2, ... for a flattened list, whose member is ""), in the order of
// their indices. Indices need not be contiguous; names under member that
// are not positive decimal indices are ignored, as unknown parameters are.
// The parameter n with an empty value and no elements, which clients send
// for an empty list, gives an empty list. QueryList returns nil when there is
// no list.
func QueryList[T any](n *QueryNode, member string, e *ValidationError, dec QueryDecoder[T]) []T {
	return queryList(n, member, -1, e, dec)
}

// QueryListMax is QueryList for a list of at most max elements in the
// model: it decodes no more than the first max+1 elements, so that a form
// of thousands of them costs no more than the bound allows, and Validate,
// seeing one too many, reports the bound.
func QueryListMax[T any](n *QueryNode, member string, max int, e *ValidationError, dec QueryDecoder[T]) []T {
	return queryList(n, member, max, e, dec)
}

// queryList is QueryList decoding at most max+1 elements; all of them when
// max is negative.
func queryList[T any](n *QueryNode, member string, max int, e *ValidationError, dec QueryDecoder[T]) []T {
	if n == nil {
		return nil
	}
	items := n
	if member != "" {
		items = n.Child(member)
	}
	elems := indexed(items)
	if len(elems) == 0 {
		if isEmpty(n, member, "list", e) {
			return []T{}
		}
		return nil
	}
	if max >= 0 && len(elems) > max+1 {
		elems = elems[:max+1]
	}
	list := make([]T, 0, len(elems))
	for _, c := range elems {
		if v, ok := dec(c, e); ok {
			list = append(list, v)
		}
	}
	return list
}

// QueryMap decodes a map: the entries n.<entry>.N.<key> and n.<entry>.N.<value>
// (n.N.<key> and n.N.<value> for a flattened map, whose entry is ""). An
// entry without its key or value is an error; for several entries with one
// key, the highest index wins. QueryMap returns nil when there is no map; an
// empty value and no entries gives an empty map, as for QueryList.
func QueryMap[K ~string, V any](n *QueryNode, entry, key, value string, e *ValidationError, decKey QueryDecoder[K], decValue QueryDecoder[V]) map[K]V {
	if n == nil {
		return nil
	}
	items := n
	if entry != "" {
		items = n.Child(entry)
	}
	entries := indexed(items)
	if len(entries) == 0 {
		if isEmpty(n, entry, "map", e) {
			return map[K]V{}
		}
		return nil
	}
	m := make(map[K]V, len(entries))
	for _, c := range entries {
		kn, vn := c.Child(key), c.Child(value)
		if _, ok := kn.Value(); !ok {
			e.Add(c.key, "must have a "+key)
			continue
		}
		if vn == nil {
			e.Add(c.key, "must have a "+value)
			continue
		}
		k, kok := decKey(kn, e)
		v, vok := decValue(vn, e)
		if kok && vok {
			m[k] = v
		}
	}
	return m
}

// indexed returns the children of n named by positive decimal indices, in
// the order of the indices.
func indexed(n *QueryNode) []*QueryNode {
	if n == nil {
		return nil
	}
	type elem struct {
		i int
		n *QueryNode
	}
	var elems []elem
	for _, c := range n.children {
		name := c.name()
		if name == "" || name[0] < '1' || name[0] > '9' {
			continue
		}
		i, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		elems = append(elems, elem{i, c})
	}
	slices.SortFunc(elems, func(a, b elem) int { return cmp.Compare(a.i, b.i) })
	nodes := make([]*QueryNode, len(elems))
	for i, el := range elems {
		nodes[i] = el.n
	}
	return nodes
}

// isEmpty reports whether n, a list or map without elements, is the empty
// value that clients send for an empty list or map. A non-empty value, a
// scalar where a list belongs, is an error.
func isEmpty(n *QueryNode, member, what string, e *ValidationError) bool {
	if !n.hasValue {
		return false
	}
	if n.value != "" {
		first := n.key + ".1"
		if member != "" {
			first = n.key + "." + member + ".1"
		}
		e.Add(n.key, "must be a "+what+", sent as "+first+", ...")
		return false
	}
	return true
}
