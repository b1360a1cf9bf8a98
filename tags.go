package flotilla

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// The limits AWS puts on the tags of a resource, in ECS, ELBv2 and ACM
// alike.
const (
	// MaxTags is the most tags a resource can carry.
	MaxTags = 50
	// MaxTagKeyLength is the most characters of a tag key; keys have at
	// least one.
	MaxTagKeyLength = 128
	// MaxTagValueLength is the most characters of a tag value.
	MaxTagValueLength = 256
)

// ReservedTagKey reports whether key starts with "aws:", in any case: a
// prefix AWS reserves for its own tags.
func ReservedTagKey(key string) bool {
	return strings.HasPrefix(strings.ToLower(key), "aws:")
}

// ValidateTags checks tags against ECS's rules: at most MaxTags, keys of 1
// to MaxTagKeyLength and values of at most MaxTagValueLength characters,
// unique keys, none reserved (ReservedTagKey).
func ValidateTags(tags []Tag) error {
	if len(tags) > MaxTags {
		return Errorf(EInvalid, "The number of tags exceeds the maximum of %d.", MaxTags)
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if n := utf8.RuneCountInString(t.Key); n < 1 || n > MaxTagKeyLength {
			return Errorf(EInvalid, "Tag keys must be between 1 and %d characters.", MaxTagKeyLength)
		}
		if utf8.RuneCountInString(t.Value) > MaxTagValueLength {
			return Errorf(EInvalid, "Tag values must be at most %d characters.", MaxTagValueLength)
		}
		if ReservedTagKey(t.Key) {
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

// RemoveTags returns have without the tags with the given keys, leaving
// have as it is.
func RemoveTags(have []Tag, keys []string) []Tag {
	return slices.DeleteFunc(slices.Clone(have), func(t Tag) bool { return slices.Contains(keys, t.Key) })
}
