package flotilla

import (
	"strings"
	"testing"
)

func TestParseTaskCPU(t *testing.T) {
	tests := []struct {
		in   string
		want int
		err  bool
	}{
		{"256", 256, false},
		{"1024", 1024, false},
		{"1 vCPU", 1024, false},
		{"0.5 vcpu", 512, false},
		{"2vCPU", 2048, false},
		{"abc", 0, true},
		{"-1", 0, true},
		{"0 vCPU", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTaskCPU(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("ParseTaskCPU(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParseTaskMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int
		err  bool
	}{
		{"512", 512, false},
		{"2 GB", 2048, false},
		{"0.5GB", 512, false},
		{"1gb", 1024, false},
		{"3", 0, true},
		{"lots", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTaskMemory(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("ParseTaskMemory(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParseTaskDefinitionRef(t *testing.T) {
	tests := []struct {
		in   string
		want TaskDefinitionRef
		err  bool
	}{
		{"web", TaskDefinitionRef{"web", 0}, false},
		{"web:3", TaskDefinitionRef{"web", 3}, false},
		{"arn:aws:ecs:us-east-1:123456789012:task-definition/web:7", TaskDefinitionRef{"web", 7}, false},
		{"web:0", TaskDefinitionRef{}, true},
		{"web:x", TaskDefinitionRef{}, true},
		{"bad name", TaskDefinitionRef{}, true},
		{"arn:aws:ecs:us-east-1:123456789012:cluster/web", TaskDefinitionRef{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTaskDefinitionRef(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("ParseTaskDefinitionRef(%q) = %+v, %v; want %+v, err=%v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestValidateTags(t *testing.T) {
	long := make([]byte, 129)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name string
		tags []Tag
		err  bool
	}{
		{"ok", []Tag{{"env", "prod"}, {"team", ""}}, false},
		{"empty key", []Tag{{"", "x"}}, true},
		{"long key", []Tag{{string(long), "x"}}, true},
		{"reserved", []Tag{{"aws:owner", "x"}}, true},
		{"duplicate", []Tag{{"a", "1"}, {"a", "2"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateTags(tt.tags); (err != nil) != tt.err {
				t.Fatalf("ValidateTags = %v, want err=%v", err, tt.err)
			}
		})
	}
	many := make([]Tag, 51)
	for i := range many {
		many[i] = Tag{Key: string(rune('a'+i%26)) + string(rune('a'+i/26)), Value: "v"}
	}
	if err := ValidateTags(many); ErrorCode(err) != EInvalid {
		t.Fatalf("51 tags: got %v, want invalid", err)
	}
}

func TestDependencyCycle(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		deps  map[string][]string
		want  string
	}{
		{"none", []string{"a", "b"}, nil, ""},
		{"chain", []string{"a", "b", "c"}, map[string][]string{"a": {"b"}, "b": {"c"}}, ""},
		{"diamond", []string{"a", "b", "c", "d"}, map[string][]string{"a": {"b", "c"}, "b": {"d"}, "c": {"d"}}, ""},
		{"two", []string{"a", "b"}, map[string][]string{"a": {"b"}, "b": {"a"}}, "a b a"},
		{"three, found from the first", []string{"x", "a", "b", "c"}, map[string][]string{"x": {"b"}, "a": {"b"}, "b": {"c"}, "c": {"a"}}, "b c a b"},
		{"self", []string{"a"}, map[string][]string{"a": {"a"}}, "a a"},
		{"unknown name", []string{"a"}, map[string][]string{"a": {"zz"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(DependencyCycle(tc.names, tc.deps), " ")
			if got != tc.want {
				t.Errorf("DependencyCycle = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestServiceRanges(t *testing.T) {
	for _, n := range []int64{0, 1, MaxDesiredCount} {
		if err := ValidateDesiredCount(n); err != nil {
			t.Errorf("desired count %d: %v", n, err)
		}
	}
	for _, n := range []int64{-1, MaxDesiredCount + 1, 2147483647} {
		if ErrorCode(ValidateDesiredCount(n)) != EInvalid {
			t.Errorf("desired count %d accepted", n)
		}
	}
	for _, n := range []int64{0, 2147483647} {
		if err := ValidateHealthCheckGracePeriod(n); err != nil {
			t.Errorf("grace period %d: %v", n, err)
		}
	}
	for _, n := range []int64{-1, -2147483648, 2147483648} {
		if ErrorCode(ValidateHealthCheckGracePeriod(n)) != EInvalid {
			t.Errorf("grace period %d accepted", n)
		}
	}
}
