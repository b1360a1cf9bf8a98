// Package paging is the one codec of the tokens with which List and
// Describe operations resume a listing: ECS's and ACM's nextToken and
// ELBv2's Marker. A token is the last key of the page it ends, behind a
// version prefix, in unpadded URL-safe base64; each service turns
// ErrInvalid into its own error.
package paging

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
)

// version prefixes every key a token holds, so that a later release can
// tell its own tokens from this one's.
const version = "v1:"

// ErrInvalid is returned by Key for a token that Token did not make.
var ErrInvalid = errors.New("invalid paging token")

// Token returns the token that resumes a listing after key.
func Token(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(version + key))
}

// Key returns the key a token made by Token holds; ErrInvalid for
// anything else.
func Key(token string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", ErrInvalid
	}
	key, ok := strings.CutPrefix(string(b), version)
	if !ok {
		return "", ErrInvalid
	}
	return key, nil
}

// Page cuts one page out of items, sorted by key (descending when desc):
// the items whose keys follow after (all of them when after is ""), at
// most limit (at least 1) of them, and the token of the next page, nil
// on the last.
func Page[T any](items []T, key func(T) string, after string, limit int, desc bool) ([]T, *string) {
	if after != "" {
		start, _ := slices.BinarySearchFunc(items, after, func(item T, after string) int {
			if k := key(item); (!desc && k <= after) || (desc && k >= after) {
				return -1
			}
			return 1
		})
		items = items[start:]
	}
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	next := Token(key(items[limit-1]))
	return items, &next
}
