package model_test

import (
	"encoding/json"
	"testing"

	"github.com/flotilla/flotilla/internal/model"
)

// TestListMapJSON checks that the always-sent members' types encode nil
// as empty and anything else as the slice or map would.
func TestListMapJSON(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{struct {
			L model.List[string] `json:"l"`
		}{}, `{"l":[]}`},
		{struct {
			L model.List[int] `json:"l"`
		}{model.List[int]{1, 2}}, `{"l":[1,2]}`},
		{struct {
			M model.Map[string, int] `json:"m"`
		}{}, `{"m":{}}`},
		{struct {
			M model.Map[string, int] `json:"m"`
		}{model.Map[string, int]{"a": 1}}, `{"m":{"a":1}}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.v)
		if err != nil || string(b) != tt.want {
			t.Errorf("got %s, %v; want %s", b, err, tt.want)
		}
	}
}
