// Package paging is the one codec of the tokens with which List and
// Describe operations resume a listing: ECS's and ACM's nextToken and
// ELBv2's Marker. A token is the last key of the page it ends, behind a
// version prefix, in unpadded URL-safe base64; each service turns
// ErrInvalid into its own error.
package paging

import (
	"encoding/base64"
	"errors"
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
