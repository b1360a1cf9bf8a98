// Package model holds the runtime support that the Go code generated from AWS
// service models (in the sub-packages, one per service) builds on: the wire
// timestamp type and validation errors.
package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Time is a timestamp as AWS's JSON protocols send it: seconds since the epoch
// as a JSON number, with fractional milliseconds.
type Time struct{ time.Time }

// NewTime returns t as a wire timestamp pointer, or nil for the zero time.
func NewTime(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	return &Time{t}
}

// List is a list member that a service always sends, even empty: nil
// encodes as [] rather than null. Fields of the generated JSON types are
// Lists for the members of the always-sent table; a []T is assignable to
// them and they to a []T.
type List[T any] []T

// emptyArray and emptyObject are what List and Map encode nil as;
// encoding/json copies what MarshalJSON returns and never changes it.
var emptyArray, emptyObject = []byte("[]"), []byte("{}")

// MarshalJSON encodes l as a JSON array, [] when nil.
func (l List[T]) MarshalJSON() ([]byte, error) {
	if l == nil {
		return emptyArray, nil
	}
	return json.Marshal([]T(l))
}

// Map is List for map members: nil encodes as {}.
type Map[K comparable, V any] map[K]V

// MarshalJSON encodes m as a JSON object, {} when nil.
func (m Map[K, V]) MarshalJSON() ([]byte, error) {
	if m == nil {
		return emptyObject, nil
	}
	return json.Marshal(map[K]V(m))
}

// MarshalJSON encodes the time as epoch seconds with millisecond precision.
func (t Time) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', 3, 64), nil
}

// UnmarshalJSON accepts epoch seconds (integer or fractional) and, as AWS
// does, an RFC 3339 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		p, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("invalid timestamp %q", s)
		}
		t.Time = p
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("invalid timestamp %s", b)
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
	return nil
}

// ParamError is one invalid input member.
type ParamError struct {
	// Path is the member's location in the input, such as
	// "containerDefinitions[0].name".
	Path string
	// Reason says what is wrong, such as "is required" or "must be one of ...".
	Reason string
}

// MaxListedErrors is how many problems a ValidationError keeps; it counts
// the others. AWS, too, answers "N validation errors detected" with only
// the first few listed, so that an input of a million invalid elements gets
// a short answer.
const MaxListedErrors = 10

// ValidationError lists the invalid members of an input: the first
// MaxListedErrors of them, and how many more there are. Generated Validate
// methods return it (never another error type).
type ValidationError struct {
	// Params are the first MaxListedErrors problems, in the order found.
	Params []ParamError
	// Omitted counts the problems found after those.
	Omitted int
}

// Add records one invalid member.
func (e *ValidationError) Add(path, reason string) {
	if len(e.Params) >= MaxListedErrors {
		e.Omitted++
		return
	}
	e.Params = append(e.Params, ParamError{Path: path, Reason: reason})
}

// Count returns how many problems were found, listed or not.
func (e *ValidationError) Count() int { return len(e.Params) + e.Omitted }

// Err returns e when it holds at least one problem and nil otherwise.
func (e *ValidationError) Err() error {
	if e == nil || e.Count() == 0 {
		return nil
	}
	return e
}

// Error lists the problems kept, separated by "; ".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Params))
	for i, p := range e.Params {
		parts[i] = p.Path + " " + p.Reason
	}
	return strings.Join(parts, "; ")
}

// JoinPath builds the path of a nested member for ParamError.
func JoinPath(parent, member string) string {
	if parent == "" {
		return member
	}
	return parent + "." + member
}

// IndexPath builds the path of a list element for ParamError.
func IndexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// KeyPath builds the path of a map value for ParamError.
func KeyPath(parent, key string) string {
	return parent + "[" + strconv.Quote(key) + "]"
}

// Bounded is implemented by the generated structures that have members with
// an upper bound in the model. A decoder uses it to stop at the first item
// past a bound, before the whole value is in memory.
type Bounded interface {
	// MaxLengths returns the upper bound of each such member, by wire name:
	// the most items of a list, entries of a map or characters of a string.
	MaxLengths() map[string]int
}
