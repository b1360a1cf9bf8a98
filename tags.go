package flotilla

import (
	"strings"
	"unicode/utf8"
)

// MaxTags is the most tags a resource can carry.
const MaxTags = 50

// ValidateTags checks tags against ECS's rules: at most 50, keys of 1–128
// and values of 0–256 characters, unique keys, no reserved "aws:" prefix.
func ValidateTags(tags []Tag) error {
	if len(tags) > MaxTags {
		return Errorf(EInvalid, "The number of tags exceeds the maximum of %d.", MaxTags)
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if n := utf8.RuneCountInString(t.Key); n < 1 || n > 128 {
			return Errorf(EInvalid, "Tag keys must be between 1 and 128 characters.")
		}
		if utf8.RuneCountInString(t.Value) > 256 {
			return Errorf(EInvalid, "Tag values must be at most 256 characters.")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return Errorf(EInvalid, "Tag keys cannot start with the reserved prefix 'aws:'.")
		}
		if seen[t.Key] {
			return Errorf(EInvalid, "Duplicate tag key %q.", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// MergeTags adds or replaces tags by key, keeping the existing order.
func MergeTags(have, add []Tag) []Tag {
	out := append([]Tag(nil), have...)
	for _, t := range add {
		replaced := false
		for i := range out {
			if out[i].Key == t.Key {
				out[i].Value = t.Value
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	return out
}

// RemoveTags drops the tags with the given keys.
func RemoveTags(have []Tag, keys []string) []Tag {
	drop := make(map[string]bool, len(keys))
	for _, k := range keys {
		drop[k] = true
	}
	var out []Tag
	for _, t := range have {
		if !drop[t.Key] {
			out = append(out, t)
		}
	}
	return out
}
