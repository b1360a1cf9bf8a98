package flotilla

import (
	"slices"
	"strings"
	"testing"
)

func TestReservedTagKey(t *testing.T) {
	for key, want := range map[string]bool{
		"aws:owner": true, "AWS:owner": true, "Aws:": true,
		"aws": false, "awsowner": false, "my-aws:owner": false, "": false,
	} {
		if got := ReservedTagKey(key); got != want {
			t.Errorf("ReservedTagKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestTagLimits checks the limits at their bounds: one more than each is
// refused, the bound itself is not.
func TestTagLimits(t *testing.T) {
	tags := func(n int) []Tag {
		out := make([]Tag, n)
		for i := range out {
			out[i] = Tag{Key: "k" + strings.Repeat("x", i)}
		}
		return out
	}
	tests := []struct {
		name string
		tags []Tag
		err  bool
	}{
		{"50 tags", tags(MaxTags), false},
		{"51 tags", tags(MaxTags + 1), true},
		{"key of 128", []Tag{{Key: strings.Repeat("é", 128)}}, false},
		{"key of 129", []Tag{{Key: strings.Repeat("é", 129)}}, true},
		{"value of 256", []Tag{{Key: "k", Value: strings.Repeat("é", 256)}}, false},
		{"value of 257", []Tag{{Key: "k", Value: strings.Repeat("é", 257)}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateTags(tt.tags); (err != nil) != tt.err {
				t.Fatalf("ValidateTags = %v, want err=%v", err, tt.err)
			}
		})
	}
}

func TestMergeTags(t *testing.T) {
	have := []Tag{{"env", "dev"}, {"team", "a"}}
	got := MergeTags(have, []Tag{{"app", "web"}, {"env", "prod"}})
	if want := []Tag{{"env", "prod"}, {"team", "a"}, {"app", "web"}}; !slices.Equal(got, want) {
		t.Fatalf("MergeTags = %v, want %v", got, want)
	}
	if have[0].Value != "dev" {
		t.Fatalf("MergeTags changed its input: %v", have)
	}
}

func TestRemoveTags(t *testing.T) {
	have := []Tag{{"env", "dev"}, {"team", "a"}, {"app", "web"}}
	got := RemoveTags(have, []string{"team", "nope"})
	if want := []Tag{{"env", "dev"}, {"app", "web"}}; !slices.Equal(got, want) {
		t.Fatalf("RemoveTags = %v, want %v", got, want)
	}
	if want := []Tag{{"env", "dev"}, {"team", "a"}, {"app", "web"}}; !slices.Equal(have, want) {
		t.Fatalf("RemoveTags changed its input: %v", have)
	}
}
