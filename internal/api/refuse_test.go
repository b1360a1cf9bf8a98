package api_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/model"
)

type refuseInput struct {
	Name     *string               `json:"name,omitempty"`
	Exec     *bool                 `json:"exec,omitempty"`
	Items    []refuseItem          `json:"items,omitempty"`
	ByName   map[string]refuseItem `json:"byName,omitempty"`
	Extra    *refuseItem           `json:"extra,omitempty"`
	Mode     string                `json:"mode,omitempty"`
	internal int
}

type refuseItem struct {
	Secrets []string  `json:"secrets,omitempty"`
	Count   *int32    `json:"count,omitempty"`
	Options *struct{} `json:"options,omitempty"`
}

var toyRefusals = api.Refusals{
	"refuseInput.exec":   {Why: "no exec"},
	"refuseInput.extra":  {Why: "no extra"},
	"refuseInput.mode":   {Why: "no mode", Allow: []string{"NONE"}},
	"refuseItem.secrets": {Why: "no secrets"},
	"refuseItem.options": {Why: "no options"},
}

func TestRefusalsCheck(t *testing.T) {
	yes, no, zero := true, false, int32(0)
	tests := []struct {
		name string
		in   refuseInput
		want []string // paths refused
	}{
		{"nothing set", refuseInput{}, nil},
		{"defaults pass", refuseInput{Exec: &no, Items: []refuseItem{{Secrets: []string{}, Count: &zero}}}, nil},
		{"true refused", refuseInput{Exec: &yes}, []string{"exec"}},
		{"allowed value passes", refuseInput{Mode: "NONE"}, nil},
		{"other value refused", refuseInput{Mode: "SERVICE"}, []string{"mode"}},
		{"present structure refused", refuseInput{Extra: &refuseItem{}}, []string{"extra"}},
		{"nested list", refuseInput{Items: []refuseItem{{}, {Secrets: []string{"s"}, Options: &struct{}{}}}},
			[]string{"items[1].secrets", "items[1].options"}},
		{"map value", refuseInput{ByName: map[string]refuseItem{"a": {Secrets: []string{"s"}}}}, []string{`byName["a"].secrets`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := toyRefusals.Check(&tt.in)
			var got []string
			var ve *model.ValidationError
			if errors.As(err, &ve) {
				for _, p := range ve.Params {
					got = append(got, p.Path)
				}
			} else if err != nil {
				t.Fatalf("error %T %v", err, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("refused %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCoverage(t *testing.T) {
	inputs := []reflect.Type{reflect.TypeFor[refuseInput]()}
	handled := []string{"refuseInput.name", "refuseInput.items", "refuseInput.byName", "refuseItem.count", "refuseInput.gone", "refuseItem.secrets"}
	missing, stale, both := api.Coverage(inputs, handled, toyRefusals)
	if !slices.Equal(missing, nil) || !slices.Equal(stale, []string{"refuseInput.gone"}) || !slices.Equal(both, []string{"refuseItem.secrets"}) {
		t.Errorf("missing %q, stale %q, both %q", missing, stale, both)
	}
	missing, _, _ = api.Coverage(inputs, handled[1:], toyRefusals)
	if !slices.Equal(missing, []string{"refuseInput.name"}) {
		t.Errorf("without name: missing %q", missing)
	}
}

type refuseNode struct {
	Secret *string      `json:"secret,omitempty"`
	Child  *refuseNode  `json:"child,omitempty"`
	Kids   []refuseNode `json:"kids,omitempty"`
}

// TestRefusalsRecursive checks a type that contains itself: the refused
// member is found at any depth.
func TestRefusalsRecursive(t *testing.T) {
	r := api.Refusals{"refuseNode.secret": {Why: "no secrets"}}
	s := "x"
	err := r.Check(&refuseNode{Child: &refuseNode{Kids: []refuseNode{{}, {Secret: &s}}}})
	var ve *model.ValidationError
	if !errors.As(err, &ve) || len(ve.Params) != 1 || ve.Params[0].Path != "child.kids[1].secret" {
		t.Fatalf("got %v, want child.kids[1].secret refused", err)
	}
}
