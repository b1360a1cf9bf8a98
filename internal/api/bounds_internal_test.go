package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flotilla/flotilla/internal/model"
)

type boundedItem struct {
	Name *string `json:"name,omitempty"`
}

type boundedNested struct {
	Items []boundedItem `json:"items,omitempty"`
}

func (*boundedNested) MaxLengths() map[string]int { return map[string]int{"items": 1} }

type boundedInput struct {
	Items  []boundedItem     `json:"items,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Name   *string           `json:"name,omitempty"`
	Nested *boundedNested    `json:"nested,omitempty"`
	Free   []boundedItem     `json:"free,omitempty"`
	Any    map[string]string `json:"any,omitempty"`
	At     *model.Time       `json:"at,omitempty"`
}

func (*boundedInput) MaxLengths() map[string]int {
	return map[string]int{"items": 3, "labels": 2, "name": 5}
}

func items(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("{},", n), ",") + "]" }

func TestCheckJSON(t *testing.T) {
	typ := jsonTypeOf(reflect.TypeFor[boundedInput](), map[reflect.Type]*jsonType{})
	// An element of free costs its 8 bytes five times over (sliceGrowth)
	// for 3 bytes of body: past the budget from about 16000 of them.
	for _, tc := range []struct {
		name, body string
		want       string // the validation error, or "budget:" and the path; "" for none
	}{
		{"within bounds", `{"items":` + items(3) + `,"labels":{"a":"b","c":"d"},"name":"abcde","nested":{"items":[{"name":"x"}]},"at":1767225600}`, ""},
		{"list past its bound", `{"items":` + items(4) + `}`, "items must have at most 3 items"},
		{"stops at the first item past the bound", `{"items":[{},{},{},{},` + strings.Repeat("x", 100) + `}`, "items must have at most 3 items"},
		{"name in another case", `{"ITEMS":` + items(4) + `}`, "items must have at most 3 items"},
		{"escaped name", `{"it\u0065ms":` + items(4) + `}`, "items must have at most 3 items"},
		{"map past its bound", `{"labels":{"a":"b","c":"d","e":"f"}}`, "labels must have at most 2 entries"},
		{"string past its bound", `{"name":"abcdef"}`, "name must have length at most 5"},
		{"escapes are one character", `{"name":"\u00e9\u00e9\u00e9\u00e9\u00e9"}`, ""},
		{"multi-byte characters are one", `{"name":"ééééé"}`, ""},
		{"multi-byte characters past the bound", `{"name":"éééééé"}`, "name must have length at most 5"},
		{"nested", `{"nested":{"items":` + items(2) + `}}`, "nested.items must have at most 1 items"},
		{"null", `{"items":null,"name":null,"nested":null}`, ""},
		{"unknown members skipped", `{"x":{"a":[1,-2.5e3,{"b":"]}\""}],"c":true},"items":` + items(4) + `}`, "items must have at most 3 items"},
		{"wrong type left to decoding", `{"items":"abcdefgh","name":["a","b","c","d","e","f"]}`, ""},
		{"malformed left to decoding", `{"items":[{},}`, ""},
		{"not an object", `[1,2,3]`, ""},
		{"empty", ``, ""},
		{"under the budget", `{"free":` + items(10000) + `}`, ""},
		{"past the budget", `{"free":` + items(100000) + `}`, "budget:free["},
		{"past the budget in a map", `{"any":{` + strings.TrimSuffix(strings.Repeat(`"":"",`, 100000), ",") + `}}`, "budget:any[\"\"]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkJSON([]byte(tc.body), typ)
			var ve *model.ValidationError
			var ae *Error
			switch {
			case tc.want == "":
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
			case strings.HasPrefix(tc.want, "budget:"):
				if !errors.As(err, &ae) || ae.Code != CodeSerialization || !strings.Contains(ae.Message, "at "+strings.TrimPrefix(tc.want, "budget:")) {
					t.Fatalf("got %v, want a SerializationException at %s", err, strings.TrimPrefix(tc.want, "budget:"))
				}
			default:
				if !errors.As(err, &ve) || ve.Error() != tc.want || ve.Count() != 1 {
					t.Fatalf("got %v, want %q", err, tc.want)
				}
			}
		})
	}
}

// TestCheckJSONAllocations checks that the check of a body costs one
// allocation (its path), whatever the body's size, when it finds nothing
// wrong.
func TestCheckJSONAllocations(t *testing.T) {
	typ := jsonTypeOf(reflect.TypeFor[boundedInput](), map[reflect.Type]*jsonType{})
	body := []byte(`{"Items":[{"name":"a"}],"labels":{"a":"b"},"free":` + items(10000) + `,"x":[` + strings.Repeat(`{"y":"z"},`, 1000) + `1]}`)
	if n := testing.AllocsPerRun(10, func() {
		if err := checkJSON(body, typ); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("checkJSON made %.0f allocations, want at most 1", n)
	}
}

// FuzzCheckJSON holds checkJSON to encoding/json: on any body it must not
// panic; a bound it reports must be broken in what json.Unmarshal decodes
// (when that succeeds); and a bound broken in what json.Unmarshal decodes
// must be reported (or the budget be exceeded).
func FuzzCheckJSON(f *testing.F) {
	for _, seed := range []string{
		`{"items":[{},{},{}],"labels":{"a":"b"},"name":"abcde"}`,
		`{"items":[{},{},{},{}]}`,
		`{"ITEMS":[{},{},{},{}],"Name":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}`,
		`{"labels":{"a":"b","a":"c","b":"d"}}`,
		`{"nested":{"items":[{"name":"x"},{}]},"free":[{},{}]}`,
		`{"items":[],"items":[{},{},{},{}]}`,
		`{"name":"\xff\xff\xff\xff\xff\xff"}`,
		`{"x":[1,{"y":"]"}],"name":null}`,
		`{"items":[{},}`,
		`[`, `"`, ``, `{"a":`,
	} {
		f.Add(seed)
	}
	typ := jsonTypeOf(reflect.TypeFor[boundedInput](), map[reflect.Type]*jsonType{})
	f.Fuzz(func(t *testing.T, body string) {
		err := checkJSON([]byte(body), typ)
		var in boundedInput
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		broken := len(in.Items) > 3 || len(in.Labels) > 2 || in.Name != nil && utf8.RuneCountInString(*in.Name) > 5 ||
			in.Nested != nil && len(in.Nested.Items) > 1
		var ve *model.ValidationError
		var ae *Error
		switch {
		case errors.As(err, &ve) && !broken:
			// A duplicate member counts each time it is sent, while
			// decoding keeps the last; so a report is right if any
			// occurrence broke the bound. Only check the single-occurrence case.
			if !hasDuplicateKeys(body) {
				t.Fatalf("reported %v, but the decoded input is within bounds: %+v", err, in)
			}
		case err == nil && broken:
			t.Fatalf("a bound is broken in %+v, and checkJSON reported nothing", in)
		case err != nil && !errors.As(err, &ve) && !errors.As(err, &ae):
			t.Fatalf("unexpected error %T %v", err, err)
		}
	})
}

// hasDuplicateKeys reports, roughly, whether body names a member twice in
// one object: true when any key is repeated anywhere.
func hasDuplicateKeys(body string) bool {
	dec := json.NewDecoder(strings.NewReader(body))
	seen := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if s, ok := tok.(string); ok {
			k := strings.ToLower(s)
			if seen[k] {
				return true
			}
			seen[k] = true
		}
	}
}
