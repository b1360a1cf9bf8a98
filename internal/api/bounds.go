package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flotilla/flotilla/internal/model"
)

// A JSON request is checked against its input type before it is decoded,
// in one pass over the body that allocates next to nothing (the path to
// the value it reads): a list, map or string member longer than the model
// allows (model.Bounded) is refused at its first item past the bound, and
// so is a request whose decoded form would take more than DecodeBudget
// bytes of memory. Without the check, a 3 MB body of a million {} decodes
// into a million structures of hundreds of bytes each before Validate or
// the handler can count them.

// Budget of a decoded request: minDecodeBudget bytes, and decodeBytesPerByte
// for every byte of the body. Requests as clients write them take a few
// bytes per byte (strings cost a header and their bytes, numbers a pointer
// and their value); only long lists of tiny structures ({} decoding into a
// structure of hundreds of bytes) come near the bound.
const (
	minDecodeBudget    = 256 << 10
	decodeBytesPerByte = 8
)

// Growth of what encoding/json decodes into: it appends a list's elements
// one by one, and the arrays it outgrows on the way add up to about four
// times the last one (Go grows large slices by a quarter); a map's tables
// add up to about twice the last.
const (
	sliceGrowth = 5
	mapGrowth   = 2
)

// DecodeBudget returns the most bytes a JSON body of n bytes may decode
// into.
func DecodeBudget(n int) int64 { return minDecodeBudget + decodeBytesPerByte*int64(n) }

// maxCheckDepth is encoding/json's nesting limit: the check gives up deeper
// than that and leaves the error to json.Unmarshal.
const maxCheckDepth = 10000

// jsonKind is what a JSON value decodes into, as the check sees it.
type jsonKind uint8

const (
	jsonOther   jsonKind = iota // numbers, booleans, and types that decode themselves (model.Time)
	jsonPointer                 // elem behind a pointer of size bytes, allocated for a non-null value
	jsonString
	jsonStruct
	jsonList // elements of elem, size bytes each
	jsonMap  // values of elem; an entry costs size bytes
)

// jsonType describes a Go type that JSON decodes into.
type jsonType struct {
	kind   jsonKind
	size   int64     // pointer: of the value pointed to; list: of an element; map: of an entry
	elem   *jsonType // pointer, list, map
	fields map[string]*jsonField
	folded []*jsonField // fields in order, for case-insensitive names
}

// jsonField is a member of a structure.
type jsonField struct {
	name string
	t    *jsonType
	max  int // the model's bound of the member; -1 for none
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	boundedType     = reflect.TypeFor[model.Bounded]()
)

// jsonTypeOf returns the description of t, sharing it for types met
// before (so that recursive types terminate).
func jsonTypeOf(t reflect.Type, seen map[reflect.Type]*jsonType) *jsonType {
	if jt := seen[t]; jt != nil {
		return jt
	}
	jt := &jsonType{}
	seen[t] = jt
	switch {
	case t.Kind() == reflect.Pointer:
		jt.kind, jt.size, jt.elem = jsonPointer, int64(t.Elem().Size()), jsonTypeOf(t.Elem(), seen)
	case t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType):
		jt.kind = jsonOther
	case t.Kind() == reflect.String:
		jt.kind = jsonString
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		jt.kind = jsonString // a blob: base64 decodes into fewer bytes than it has
	case t.Kind() == reflect.Slice:
		jt.kind, jt.size, jt.elem = jsonList, int64(t.Elem().Size()), jsonTypeOf(t.Elem(), seen)
	case t.Kind() == reflect.Map:
		// An entry holds its key and value and a few bytes of the map's own.
		jt.kind, jt.size, jt.elem = jsonMap, int64(t.Key().Size()+t.Elem().Size())+16, jsonTypeOf(t.Elem(), seen)
	case t.Kind() == reflect.Struct:
		jt.kind = jsonStruct
		var bounds map[string]int
		if reflect.PointerTo(t).Implements(boundedType) {
			bounds = reflect.New(t).Interface().(model.Bounded).MaxLengths()
		}
		jt.fields = map[string]*jsonField{}
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			f := &jsonField{name: name, t: jsonTypeOf(sf.Type, seen), max: -1}
			if n, ok := bounds[name]; ok {
				f.max = n
			}
			jt.fields[name] = f
			jt.folded = append(jt.folded, f)
		}
	default:
		jt.kind = jsonOther
	}
	return jt
}

// field returns the member that a key of an object names, as
// encoding/json finds it: the exact name, else one equal under case
// folding; nil for none.
func (t *jsonType) field(key []byte) *jsonField {
	if f := t.fields[string(key)]; f != nil {
		return f
	}
	for _, f := range t.folded {
		if bytes.EqualFold(key, []byte(f.name)) {
			return f
		}
	}
	return nil
}

// errNotChecked stops the check at JSON it cannot follow: json.Unmarshal
// then answers the syntax error.
var errNotChecked = errors.New("not checked")

// checkJSON returns a *model.ValidationError for the first member of body
// past the model's bound, or an *Error when body would decode into more
// than DecodeBudget bytes; nil otherwise, and for a body that is not JSON.
func checkJSON(body []byte, t *jsonType) error {
	var path [16]pathStep
	c := boundsCheck{data: body, budget: DecodeBudget(len(body)), path: path[:0]}
	if err := c.value(t, -1); err != nil && err != errNotChecked {
		return err
	}
	return nil
}

// boundsCheck is the state of checkJSON: a position in the body, the bytes
// decoding would have taken so far, and the path to the value being read.
type boundsCheck struct {
	data   []byte
	pos    int
	cost   int64
	budget int64
	path   []pathStep
	depth  int
}

// pathStep is a member name, a map key (when key is set) or a list index.
type pathStep struct {
	name  string
	key   []byte // raw, as in the body
	index int
}

// pathString writes c.path as validation errors do: a.b[3].c["k"].
func (c *boundsCheck) pathString() string {
	var b strings.Builder
	for _, s := range c.path {
		switch {
		case s.key != nil:
			b.WriteString("[" + strconv.Quote(string(s.key)) + "]")
		case s.name == "":
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		}
	}
	return b.String()
}

func (c *boundsCheck) tooLong(reason string) error {
	var e model.ValidationError
	e.Add(c.pathString(), reason)
	return &e
}

// spend adds n bytes to the cost, failing past the budget.
func (c *boundsCheck) spend(n int64) error {
	c.cost += n
	if c.cost <= c.budget {
		return nil
	}
	return Errorf(CodeSerialization, "The request is too large to decode: at %s it would take more than %d bytes of memory (%d bytes for each byte of the body, and %d). Send fewer items.",
		c.pathString(), c.budget, decodeBytesPerByte, minDecodeBudget)
}

func (c *boundsCheck) space() {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (c *boundsCheck) peek() byte {
	c.space()
	if c.pos == len(c.data) {
		return 0
	}
	return c.data[c.pos]
}

// value checks the value at c.pos, of type t, whose model bound is max (-1
// for none).
func (c *boundsCheck) value(t *jsonType, max int) error {
	ch := c.peek()
	if ch == 'n' {
		return c.skip() // null decodes into nothing
	}
	if c.depth++; c.depth > maxCheckDepth {
		return errNotChecked
	}
	err := c.typed(t, ch, max)
	c.depth--
	return err
}

// typed checks the value at c.pos, whose first byte is ch, as value does.
func (c *boundsCheck) typed(t *jsonType, ch byte, max int) error {
	switch {
	case t.kind == jsonPointer:
		if err := c.spend(t.size); err != nil {
			return err
		}
		return c.value(t.elem, max)
	case t.kind == jsonString && ch == '"':
		return c.string(max)
	case t.kind == jsonStruct && ch == '{':
		return c.object(t)
	case t.kind == jsonList && ch == '[':
		return c.list(t, max)
	case t.kind == jsonMap && ch == '{':
		return c.mapEntries(t, max)
	}
	// A scalar, or a value of the wrong type, which decoding refuses.
	return c.skip()
}

// string checks a string's length in characters (as decoded: an escape is
// one, and so is each byte of invalid UTF-8) and its cost.
func (c *boundsCheck) string(max int) error {
	raw, escaped, err := c.scanString()
	if err != nil {
		return err
	}
	if err := c.spend(int64(len(raw))); err != nil {
		return err
	}
	if max < 0 || len(raw) <= max {
		return nil
	}
	n := utf8.RuneCount(raw)
	if escaped {
		var s string
		if json.Unmarshal(c.data[c.pos-len(raw)-2:c.pos], &s) != nil {
			return errNotChecked
		}
		n = utf8.RuneCountInString(s)
	}
	if n > max {
		return c.tooLong(fmt.Sprintf("must have length at most %d", max))
	}
	return nil
}

// scanString reads the string at c.pos and returns its bytes between the
// quotes, and whether it has escapes.
func (c *boundsCheck) scanString() (raw []byte, escaped bool, err error) {
	start := c.pos + 1
	for i := start; i < len(c.data); i++ {
		switch b := c.data[i]; {
		case b == '"':
			c.pos = i + 1
			return c.data[start:i], escaped, nil
		case b == '\\':
			escaped = true
			i++
		case b < 0x20:
			return nil, false, errNotChecked
		}
	}
	return nil, false, errNotChecked
}

func (c *boundsCheck) object(t *jsonType) error {
	c.pos++ // {
	if c.peek() == '}' {
		c.pos++
		return nil
	}
	for {
		if c.peek() != '"' {
			return errNotChecked
		}
		key, escaped, err := c.scanString()
		if err != nil {
			return err
		}
		if escaped {
			var s string
			if json.Unmarshal(c.data[c.pos-len(key)-2:c.pos], &s) != nil {
				return errNotChecked
			}
			key = []byte(s)
		}
		if c.peek() != ':' {
			return errNotChecked
		}
		c.pos++
		if f := t.field(key); f != nil {
			c.path = append(c.path, pathStep{name: f.name})
			err = c.value(f.t, f.max)
			c.path = c.path[:len(c.path)-1]
		} else {
			err = c.skip()
		}
		if err != nil {
			return err
		}
		if err := c.next('}'); err != nil {
			return err
		}
		if c.data[c.pos-1] == '}' {
			return nil
		}
	}
}

// next reads the "," between items or the closing byte.
func (c *boundsCheck) next(closing byte) error {
	switch c.peek() {
	case ',', closing:
		c.pos++
		return nil
	}
	return errNotChecked
}

func (c *boundsCheck) list(t *jsonType, max int) error {
	c.pos++ // [
	if c.peek() == ']' {
		c.pos++
		return nil
	}
	for i := 0; ; i++ {
		if max >= 0 && i == max {
			return c.tooLong(fmt.Sprintf("must have at most %d items", max))
		}
		c.path = append(c.path, pathStep{index: i})
		err := c.spend(t.size * sliceGrowth)
		if err == nil {
			err = c.value(t.elem, -1)
		}
		c.path = c.path[:len(c.path)-1]
		if err != nil {
			return err
		}
		if err := c.next(']'); err != nil {
			return err
		}
		if c.data[c.pos-1] == ']' {
			return nil
		}
	}
}

func (c *boundsCheck) mapEntries(t *jsonType, max int) error {
	c.pos++ // {
	if c.peek() == '}' {
		c.pos++
		return nil
	}
	for i := 0; ; i++ {
		if max >= 0 && i == max {
			return c.tooLong(fmt.Sprintf("must have at most %d entries", max))
		}
		if c.peek() != '"' {
			return errNotChecked
		}
		key, _, err := c.scanString()
		if err != nil {
			return err
		}
		if c.peek() != ':' {
			return errNotChecked
		}
		c.pos++
		c.path = append(c.path, pathStep{key: key})
		err = c.spend(t.size*mapGrowth + int64(len(key)))
		if err == nil {
			err = c.value(t.elem, -1)
		}
		c.path = c.path[:len(c.path)-1]
		if err != nil {
			return err
		}
		if err := c.next('}'); err != nil {
			return err
		}
		if c.data[c.pos-1] == '}' {
			return nil
		}
	}
}

// skip passes over one value of any type, which decoding either ignores (an
// unknown member, null) or refuses (a value of the wrong type) without
// keeping it.
func (c *boundsCheck) skip() error {
	depth := 0
	for {
		switch ch := c.peek(); ch {
		case 0:
			return errNotChecked
		case '"':
			if _, _, err := c.scanString(); err != nil {
				return err
			}
		case '{', '[':
			depth++
			c.pos++
			continue
		case '}', ']':
			depth--
			c.pos++
			if depth < 0 {
				return errNotChecked
			}
		case ',', ':':
			if depth == 0 {
				return errNotChecked
			}
			c.pos++
			continue
		default:
			start := c.pos
			for c.pos < len(c.data) && isLiteralByte(c.data[c.pos]) {
				c.pos++
			}
			if c.pos == start {
				return errNotChecked
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// isLiteralByte reports whether b may be part of a number, true, false or
// null.
func isLiteralByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '-' || b == '+' || b == '.'
}
