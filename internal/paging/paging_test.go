package paging

import (
	"encoding/base64"
	"errors"
	"slices"
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

// walk pages through items with Page, limit at a time, and returns what
// the pages hold, in order.
func walk(t *testing.T, items []string, limit int, desc bool) []string {
	t.Helper()
	var got []string
	after := ""
	for range len(items) + 1 {
		page, next := Page(items, func(s string) string { return s }, after, limit, desc)
		if len(page) > limit {
			t.Fatalf("page of %d items, limit %d", len(page), limit)
		}
		got = append(got, page...)
		if next == nil {
			return got
		}
		var err error
		if after, err = Key(*next); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("no last page")
	return nil
}

func TestPage(t *testing.T) {
	asc := []string{"a", "b", "c", "d", "e"}
	desc := []string{"e", "d", "c", "b", "a"}
	for _, limit := range []int{1, 2, 4, 5, 6} {
		if got := walk(t, asc, limit, false); !slices.Equal(got, asc) {
			t.Errorf("ascending, limit %d: %v", limit, got)
		}
		if got := walk(t, desc, limit, true); !slices.Equal(got, desc) {
			t.Errorf("descending, limit %d: %v", limit, got)
		}
	}
	if page, next := Page(asc, func(s string) string { return s }, "", 5, false); len(page) != 5 || next != nil {
		t.Errorf("a page of exactly limit items: %v, next %v, want no next page", page, next)
	}
	if got := walk(t, nil, 3, false); len(got) != 0 {
		t.Errorf("empty list: %v", got)
	}
}

// TestPageResumesAfterAGone: a page resumes after the key its token
// holds even when that item has gone since.
func TestPageResumesAfterAGone(t *testing.T) {
	id := func(s string) string { return s }
	if page, _ := Page([]string{"a", "c", "d"}, id, "b", 10, false); !slices.Equal(page, []string{"c", "d"}) {
		t.Errorf("ascending after b: %v", page)
	}
	if page, _ := Page([]string{"d", "c", "a"}, id, "b", 10, true); !slices.Equal(page, []string{"a"}) {
		t.Errorf("descending after b: %v", page)
	}
}
