package main

import (
	"strings"
	"testing"
)

func alwaysModel(protocol string) *rawModel {
	return &rawModel{
		Metadata:   rawMetadata{Protocol: protocol, APIVersion: "2020-01-01"},
		Operations: map[string]*rawOperation{"ListFoos": {Output: &rawRef{Shape: "ListFoosResponse"}}},
		Shapes: map[string]*rawShape{
			"ListFoosResponse": {Type: "structure", Members: map[string]*rawRef{
				"foos":      {Shape: "Strings"},
				"others":    {Shape: "Strings"},
				"nextToken": {Shape: "String"},
			}},
			"Strings": {Type: "list", Member: &rawRef{Shape: "String"}},
			"String":  {Type: "string"},
		},
	}
}

// TestAlwaysSent checks that the members of the table, and only they, are
// sent empty: no omitempty and a MarshalJSON filling nil for JSON, a
// non-nil list for the query protocol's XML.
func TestAlwaysSent(t *testing.T) {
	t.Run("json", func(t *testing.T) {
		svc, err := build(alwaysModel("json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := markAlways(svc, map[string][]string{"ListFoosResponse": {"foos"}}); err != nil {
			t.Fatal(err)
		}
		files, err := emit(svc, "foo", "test")
		if err != nil {
			t.Fatal(err)
		}
		types := string(files["types.gen.go"])
		for _, want := range []string{"Foos model.List[string] `json:\"foos\"`", "Others []string `json:\"others,omitempty\"`"} {
			if !strings.Contains(strings.Join(strings.Fields(types), " "), want) {
				t.Errorf("types.gen.go lacks %s:\n%s", want, types)
			}
		}
	})
	t.Run("query", func(t *testing.T) {
		raw := alwaysModel("query")
		raw.Operations["ListFoos"].Output.ResultWrapper = "ListFoosResult"
		svc, err := build(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := markAlways(svc, map[string][]string{"ListFoosResponse": {"foos"}}); err != nil {
			t.Fatal(err)
		}
		files, err := emit(svc, "foo", "test")
		if err != nil {
			t.Fatal(err)
		}
		src := string(files["query.gen.go"])
		for _, want := range []string{`model.XMLList(w, "foos", "member", model.NonNilSlice(s.Foos),`, `model.XMLList(w, "others", "member", s.Others,`} {
			if !strings.Contains(src, want) {
				t.Errorf("query.gen.go lacks %s", want)
			}
		}
	})
}

// TestAlwaysSentErrors checks that a table that does not fit the model is
// refused rather than ignored.
func TestAlwaysSentErrors(t *testing.T) {
	tests := []struct {
		name  string
		table map[string][]string
		want  string
	}{
		{"unknown_shape", map[string][]string{"Nope": {"foos"}}, "no shape Nope"},
		{"unknown_member", map[string][]string{"ListFoosResponse": {"nope"}}, "has no member nope"},
		{"scalar", map[string][]string{"ListFoosResponse": {"nextToken"}}, "not a list or a map"},
		{"twice", map[string][]string{"ListFoosResponse": {"foos", "foos"}}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := build(alwaysModel("json"))
			if err != nil {
				t.Fatal(err)
			}
			err = markAlways(svc, tt.table)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("markAlways = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
