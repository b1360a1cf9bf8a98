package paging

import (
	"encoding/base64"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, key := range []string{"", "demo", "cluster/demo/0123456789abcdef", "00000000000000000042/web", "é/ü:?&=+ "} {
		tok := Token(key)
		got, err := Key(tok)
		if err != nil || got != key {
			t.Errorf("Key(Token(%q)) = %q, %v", key, got, err)
		}
	}
}

// TestTokenFormat pins the tokens earlier releases handed out, which a
// client may still hold across an upgrade.
func TestTokenFormat(t *testing.T) {
	if got, want := Token("demo"), base64.RawURLEncoding.EncodeToString([]byte("v1:demo")); got != want {
		t.Fatalf("Token(demo) = %q, want %q", got, want)
	}
	if got, err := Key("djE6ZGVtbw"); err != nil || got != "demo" {
		t.Fatalf("Key(djE6ZGVtbw) = %q, %v, want demo", got, err)
	}
}

func TestInvalid(t *testing.T) {
	for name, tok := range map[string]string{
		"not base64":         "garbage!",
		"bad length":         "bogus",
		"padded":             base64.URLEncoding.EncodeToString([]byte("v1:demo")),
		"no version":         base64.RawURLEncoding.EncodeToString([]byte("demo")),
		"other version":      base64.RawURLEncoding.EncodeToString([]byte("v2:demo")),
		"a key, not a token": "lb-b",
		"empty":              "",
	} {
		if key, err := Key(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Key(%q) = %q, %v, want ErrInvalid", name, tok, key, err)
		}
	}
}
