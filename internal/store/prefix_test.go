package store_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
	"github.com/flotilla/flotilla/internal/store/storetest"
)

func openBolt(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// TestWithPrefixConformance runs the conformance suite on a prefixed view
// of a store that also holds keys outside the prefix, which the view must
// never show.
func TestWithPrefixConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		under := openBolt(t)
		for _, k := range []string{"/other/k", "k", "/p", "/p0/k", "/"} {
			if _, err := under.Txn(t.Context(), store.Txn{Ops: []store.Op{{Key: k, Value: []byte("outside")}}}); err != nil {
				t.Fatal(err)
			}
		}
		return store.WithPrefix(under, "/p/")
	})
}

func TestWithPrefixKeys(t *testing.T) {
	under := openBolt(t)
	view := store.WithPrefix(under, "/region/eu-west-1/")
	ctx := t.Context()
	if _, err := view.Txn(ctx, store.Txn{Ops: []store.Op{{Key: "/ecs/clusters/a", Value: []byte("1")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := under.Get(ctx, "/region/eu-west-1//ecs/clusters/a"); err != nil {
		t.Fatalf("the view's key under the prefix: %v", err)
	}
	if _, err := under.Get(ctx, "/ecs/clusters/a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the view's key outside the prefix: %v, want ErrNotFound", err)
	}
	if err := view.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := under.Rev(ctx); err != nil {
		t.Fatalf("closing the view closed the store: %v", err)
	}
}
