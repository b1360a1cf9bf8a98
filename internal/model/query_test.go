package model_test

import (
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/model"
)

func parse(t *testing.T, form string) *model.QueryNode {
	t.Helper()
	v, err := url.ParseQuery(form)
	if err != nil {
		t.Fatal(err)
	}
	return model.ParseQuery(v)
}

func TestParseQuery(t *testing.T) {
	root := parse(t, "A=1&A=2&B.member.1.C=x&B.member.1=y&Empty=")
	if v, ok := root.Child("A").Value(); !ok || v != "1" {
		t.Errorf("A = %q %v, want the first value", v, ok)
	}
	c := root.Child("B").Child("member").Child("1")
	if v, ok := c.Value(); !ok || v != "y" || c.Key() != "B.member.1" {
		t.Errorf("B.member.1 = %q %v, key %q", v, ok, c.Key())
	}
	if v, ok := c.Child("C").Value(); !ok || v != "x" || c.Child("C").Key() != "B.member.1.C" {
		t.Errorf("B.member.1.C = %q %v", v, ok)
	}
	if _, ok := root.Child("B").Value(); ok {
		t.Error("B has a value")
	}
	if v, ok := root.Child("Empty").Value(); !ok || v != "" {
		t.Errorf("Empty = %q %v", v, ok)
	}
	if root.Child("Nope").Child("Deeper") != nil {
		t.Error("Child of nil is not nil")
	}
}

func TestQueryScalars(t *testing.T) {
	root := parse(t, "S=a+b&T=true&F=FALSE&Bad=yes&I=-7&Big=3000000000&L=3000000000&D=1.5&Inf=Infinity&NaN=NaN&X=1e400&"+
		"At=2026-01-02T03:04:05.678Z&AtZone=2026-01-02T04:04:05%2B01:00&Epoch=1767323045.5&HTTP=Fri,+02+Jan+2026+03:04:05+GMT&Never=soon&B64=aGk%3D&NotB64=!")
	var e model.ValidationError
	if v, ok := model.QueryString[string](root.Child("S"), &e); v != "a b" || !ok {
		t.Errorf("S = %q", v)
	}
	if v, ok := model.QueryBool(root.Child("T"), &e); !v || !ok {
		t.Error("T")
	}
	if v, ok := model.QueryBool(root.Child("F"), &e); v || !ok {
		t.Error("F")
	}
	if v, ok := model.QueryInt32(root.Child("I"), &e); v != -7 || !ok {
		t.Errorf("I = %d", v)
	}
	if v, ok := model.QueryInt64(root.Child("L"), &e); v != 3e9 || !ok {
		t.Errorf("L = %d", v)
	}
	if v, ok := model.QueryFloat64(root.Child("D"), &e); v != 1.5 || !ok {
		t.Errorf("D = %v", v)
	}
	if v, ok := model.QueryFloat64(root.Child("Inf"), &e); !math.IsInf(v, 1) || !ok {
		t.Errorf("Inf = %v", v)
	}
	if v, ok := model.QueryFloat64(root.Child("NaN"), &e); !math.IsNaN(v) || !ok {
		t.Errorf("NaN = %v", v)
	}
	want := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	if v, ok := model.QueryTime(root.Child("At"), &e); !v.Equal(want) || !ok || v.Location() != time.UTC {
		t.Errorf("At = %v", v)
	}
	if v, ok := model.QueryTime(root.Child("AtZone"), &e); !v.Equal(want.Truncate(time.Second)) || !ok {
		t.Errorf("AtZone = %v", v)
	}
	if v, ok := model.QueryTime(root.Child("Epoch"), &e); !v.Equal(time.Unix(1767323045, 5e8)) || !ok {
		t.Errorf("Epoch = %v", v)
	}
	if v, ok := model.QueryTime(root.Child("HTTP"), &e); !v.Equal(want.Truncate(time.Second)) || !ok {
		t.Errorf("HTTP = %v", v)
	}
	if v, ok := model.QueryBlob(root.Child("B64"), &e); string(v) != "hi" || !ok {
		t.Errorf("B64 = %q", v)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("valid values: %v", err)
	}

	// Absent values are no error.
	if _, ok := model.QueryInt32(root.Child("Absent"), &e); ok || e.Err() != nil {
		t.Error("absent value decoded or reported")
	}
	for _, bad := range []struct {
		key    string
		decode func(*model.QueryNode, *model.ValidationError) bool
	}{
		{"Bad", func(n *model.QueryNode, e *model.ValidationError) bool { _, ok := model.QueryBool(n, e); return ok }},
		{"Big", func(n *model.QueryNode, e *model.ValidationError) bool { _, ok := model.QueryInt32(n, e); return ok }},
		{"X", func(n *model.QueryNode, e *model.ValidationError) bool { _, ok := model.QueryFloat64(n, e); return ok }},
		{"Never", func(n *model.QueryNode, e *model.ValidationError) bool { _, ok := model.QueryTime(n, e); return ok }},
		{"NotB64", func(n *model.QueryNode, e *model.ValidationError) bool { _, ok := model.QueryBlob(n, e); return ok }},
	} {
		var e model.ValidationError
		if bad.decode(root.Child(bad.key), &e) || len(e.Params) != 1 || e.Params[0].Path != bad.key {
			t.Errorf("%s: decoded, or errors %v", bad.key, e.Params)
		}
	}
}

func TestQueryList(t *testing.T) {
	str := model.QueryString[string]
	tests := []struct {
		name, form, member string
		want               []string
		wantErr            bool
	}{
		{"absent", "Other=1", "member", nil, false},
		{"empty", "L=", "member", []string{}, false},
		{"in index order", "L.member.3=c&L.member.1=a&L.member.2=b", "member", []string{"a", "b", "c"}, false},
		{"gaps and junk indices", "L.member.10=c&L.member.2=a&L.member.0=x&L.member.01=x&L.member.k=x", "member", []string{"a", "c"}, false},
		{"named member", "L.item.1=a", "item", []string{"a"}, false},
		{"flattened", "L.2=b&L.1=a", "", []string{"a", "b"}, false},
		{"scalar for a list", "L=a", "member", nil, true},
		{"no elements", "L.other=1", "member", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e model.ValidationError
			got := model.QueryList(parse(t, tt.form).Child("L"), tt.member, &e, str)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			if (e.Err() != nil) != tt.wantErr {
				t.Errorf("error %v", e.Err())
			}
		})
	}

	// Lists of structures: an element is its node.
	type pair struct{ K, V *string }
	dec := func(n *model.QueryNode, e *model.ValidationError) (pair, bool) {
		return pair{model.QueryOptional(n.Child("K"), e, str), model.QueryOptional(n.Child("V"), e, str)}, n != nil
	}
	var e model.ValidationError
	got := model.QueryList(parse(t, "P.member.1.K=a&P.member.2.V=b").Child("P"), "member", &e, dec)
	if len(got) != 2 || *got[0].K != "a" || got[0].V != nil || got[1].K != nil || *got[1].V != "b" {
		t.Errorf("got %+v", got)
	}
}

func TestQueryMap(t *testing.T) {
	str := model.QueryString[string]
	tests := []struct {
		name, form, entry string
		want              map[string]string
		errs              int
	}{
		{"absent", "Other=1", "entry", nil, 0},
		{"empty", "M=", "entry", map[string]string{}, 0},
		{"entries", "M.entry.1.key=a&M.entry.1.value=1&M.entry.2.key=b&M.entry.2.value=", "entry", map[string]string{"a": "1", "b": ""}, 0},
		{"flattened", "M.1.key=a&M.1.value=1", "", map[string]string{"a": "1"}, 0},
		{"later index wins", "M.entry.2.key=a&M.entry.2.value=2&M.entry.1.key=a&M.entry.1.value=1", "entry", map[string]string{"a": "2"}, 0},
		{"missing key and value", "M.entry.1.value=1&M.entry.2.key=b", "entry", map[string]string{}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e model.ValidationError
			got := model.QueryMap(parse(t, tt.form).Child("M"), tt.entry, "key", "value", &e, str, str)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			if len(e.Params) != tt.errs {
				t.Errorf("errors %v, want %d", e.Params, tt.errs)
			}
		})
	}
}

// TestParseQueryDeepNames checks that a name of absurd depth costs nothing:
// it is ignored, as no model has it.
func TestParseQueryDeepNames(t *testing.T) {
	deep := strings.Repeat("a.", 1<<20) + "b"
	root := model.ParseQuery(url.Values{deep: {"x"}, "a.b": {"y"}})
	if v, _ := root.Child("a").Child("b").Value(); v != "y" {
		t.Errorf("a.b = %q", v)
	}
	if root.Child("a").Child("a") != nil {
		t.Error("the deep name was kept")
	}
}

func TestValidationErrorKeepsTheFirstFew(t *testing.T) {
	var e model.ValidationError
	for i := range 25 {
		e.Add(model.IndexPath("items", i), "is required")
	}
	if e.Count() != 25 || len(e.Params) != model.MaxListedErrors || e.Params[model.MaxListedErrors-1].Path != "items[9]" {
		t.Fatalf("count %d, kept %v; want 25 counted and items[0] to items[9] kept", e.Count(), e.Params)
	}
	if e.Err() == nil {
		t.Fatal("Err() = nil with problems")
	}
}

func TestQueryListMax(t *testing.T) {
	var decoded int
	dec := func(n *model.QueryNode, e *model.ValidationError) (string, bool) {
		decoded++
		return model.QueryString[string](n, e)
	}
	var e model.ValidationError
	got := model.QueryListMax(parse(t, "L.member.4=d&L.member.2=b&L.member.1=a&L.member.3=c&L.member.5=e").Child("L"), "member", 2, &e, dec)
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) || decoded != 3 || e.Err() != nil {
		t.Fatalf("got %q after decoding %d elements (%v), want %q: the bound and one more", got, decoded, e.Err(), want)
	}
}
