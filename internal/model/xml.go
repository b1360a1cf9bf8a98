package model

import (
	"encoding/base64"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"
)

// XMLWriter writes the XML of AWS query-protocol responses into its buffer:
// elements without attributes, text escaped, no indentation, an element
// without content self-closed (<DeleteLoadBalancerResult/>) as AWS writes
// it. The generated MarshalQueryResult methods write with it. The zero value
// is ready to use.
type XMLWriter struct {
	buf []byte
	// open is the length of buf just after the last start tag, so that End
	// can self-close an element nothing was written into.
	open int
}

// Start writes the start tag of element name.
func (w *XMLWriter) Start(name string) {
	w.buf = append(w.buf, '<')
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, '>')
	w.open = len(w.buf)
}

// StartNS writes the start tag of element name with the default namespace
// ns, or without one if ns is "".
func (w *XMLWriter) StartNS(name, ns string) {
	if ns == "" {
		w.Start(name)
		return
	}
	w.buf = append(w.buf, '<')
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ` xmlns="`...)
	w.buf = appendEscaped(w.buf, ns, true)
	w.buf = append(w.buf, `">`...)
	w.open = len(w.buf)
}

// End writes the end tag of element name, or self-closes its start tag if
// nothing was written since.
func (w *XMLWriter) End(name string) {
	if w.open == len(w.buf) && w.open > 0 && w.buf[w.open-1] == '>' {
		w.buf = append(w.buf[:w.open-1], "/>"...)
		w.open = -1
		return
	}
	w.buf = append(w.buf, "</"...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, '>')
	w.open = -1
}

// Text writes s as character data, escaped.
func (w *XMLWriter) Text(s string) {
	w.buf = appendEscaped(w.buf, s, false)
	w.open = -1
}

// Element writes the element name holding the text s.
func (w *XMLWriter) Element(name, s string) {
	w.Start(name)
	w.Text(s)
	w.End(name)
}

// Bytes returns what was written. It is valid until the next write or Reset.
func (w *XMLWriter) Bytes() []byte { return w.buf }

// Reset empties the buffer, keeping its memory.
func (w *XMLWriter) Reset() {
	w.buf = w.buf[:0]
	w.open = -1
}

// appendEscaped appends s escaped as XML text (or as an attribute value,
// which also escapes quotes). Characters XML cannot carry, invalid UTF-8
// included, become U+FFFD; carriage returns are escaped so that parsers do
// not normalize them away.
func appendEscaped(buf []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == '&':
			esc = "&amp;"
		case r == '<':
			esc = "&lt;"
		case r == '>':
			esc = "&gt;"
		case r == '"' && attr:
			esc = "&quot;"
		case r == '\r':
			esc = "&#xD;"
		case r == '\n' && attr:
			esc = "&#xA;"
		case r == '\t' && attr:
			esc = "&#x9;"
		case !xmlChar(r) || r == utf8.RuneError && size == 1:
			esc = "\uFFFD"
		default:
			i += size
			continue
		}
		buf = append(buf, s[last:i]...)
		buf = append(buf, esc...)
		i += size
		last = i
	}
	return append(buf, s[last:]...)
}

// xmlChar reports whether r may appear in an XML 1.0 document.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// An XMLEncoder writes the element name holding *v.
type XMLEncoder[T any] func(w *XMLWriter, name string, v *T)

// XMLOptional writes the element name holding *v with enc, or nothing if v
// is nil.
func XMLOptional[T any](w *XMLWriter, name string, v *T, enc XMLEncoder[T]) {
	if v != nil {
		enc(w, name, v)
	}
}

// XMLString writes a string, or a string enum.
func XMLString[T ~string](w *XMLWriter, name string, v *T) { w.Element(name, string(*v)) }

// XMLBool writes a boolean: true or false.
func XMLBool(w *XMLWriter, name string, v *bool) { w.Element(name, strconv.FormatBool(*v)) }

// XMLInt32 writes an integer.
func XMLInt32(w *XMLWriter, name string, v *int32) {
	w.Element(name, strconv.FormatInt(int64(*v), 10))
}

// XMLInt64 writes a long.
func XMLInt64(w *XMLWriter, name string, v *int64) { w.Element(name, strconv.FormatInt(*v, 10)) }

// XMLFloat64 writes a float or a double, in the shortest decimal form that
// reads back the same; NaN and the infinities as NaN, Infinity and -Infinity.
func XMLFloat64(w *XMLWriter, name string, v *float64) {
	var s string
	switch f := *v; {
	case math.IsNaN(f):
		s = "NaN"
	case math.IsInf(f, 1):
		s = "Infinity"
	case math.IsInf(f, -1):
		s = "-Infinity"
	default:
		s = strconv.FormatFloat(f, 'g', -1, 64)
	}
	w.Element(name, s)
}

// ISO8601 is the layout of the query protocol's timestamps: UTC, with
// milliseconds.
const ISO8601 = "2006-01-02T15:04:05.000Z"

// XMLTime writes a timestamp in ISO 8601 with milliseconds, in UTC
// (2026-01-01T00:00:00.000Z): the query protocol's default format.
func XMLTime(w *XMLWriter, name string, v *Time) {
	w.Element(name, v.UTC().Format(ISO8601))
}

// XMLTimeUnix writes a timestamp as epoch seconds, with milliseconds if any
// (the model's unixTimestamp format).
func XMLTimeUnix(w *XMLWriter, name string, v *Time) {
	b, _ := v.MarshalJSON()
	w.Element(name, string(b))
}

// XMLTimeHTTP writes a timestamp as an HTTP date (the model's rfc822
// format).
func XMLTimeHTTP(w *XMLWriter, name string, v *Time) {
	w.Element(name, v.UTC().Format(http.TimeFormat))
}

// XMLBlob writes a blob, base64-encoded.
func XMLBlob(w *XMLWriter, name string, v *[]byte) {
	w.Element(name, base64.StdEncoding.EncodeToString(*v))
}

// NonNilSlice returns v, or an empty slice if v is nil: what the generated
// encoders pass for the members that a service always sends, so that an
// empty list is written as an empty element rather than left out.
func NonNilSlice[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// NonNilMap is NonNilSlice for maps.
func NonNilMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

// XMLList writes the list v as the element name holding one element member
// per item (<Subnets><member>a</member><member>b</member></Subnets>), or, for
// a flattened list (member ""), as one element name per item. A nil list
// writes nothing; an empty one an empty element, unless flattened.
func XMLList[T any](w *XMLWriter, name, member string, v []T, enc XMLEncoder[T]) {
	if v == nil {
		return
	}
	if member == "" {
		for i := range v {
			enc(w, name, &v[i])
		}
		return
	}
	w.Start(name)
	for i := range v {
		enc(w, member, &v[i])
	}
	w.End(name)
}

// XMLMap writes the map m, in key order, as the element name holding one
// element entry per entry, each holding the elements key and value; or, for
// a flattened map (entry ""), as one element name per entry holding key and
// value. A nil map writes nothing; an empty one an empty element, unless
// flattened.
func XMLMap[K ~string, V any](w *XMLWriter, name, entry, key, value string, m map[K]V, encKey XMLEncoder[K], encValue XMLEncoder[V]) {
	if m == nil {
		return
	}
	keys := slices.Sorted(maps.Keys(m))
	if entry != "" {
		w.Start(name)
	}
	for _, k := range keys {
		v := m[k]
		el := entry
		if entry == "" {
			el = name
		}
		w.Start(el)
		encKey(w, key, &k)
		encValue(w, value, &v)
		w.End(el)
	}
	if entry != "" {
		w.End(name)
	}
}
