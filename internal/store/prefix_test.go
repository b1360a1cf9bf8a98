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

// TestWithPrefixSharing keeps the keys under a shared prefix in the
// underlying store's own key space, where every view finds them, written
// atomically with the view's own keys, and shows the view's own keys
// everywhere else.
func TestWithPrefixSharing(t *testing.T) {
	under := openBolt(t)
	ctx := t.Context()
	eu := store.WithPrefixSharing(under, "/region/eu-west-1/", "/claims/")
	us := store.WithPrefixSharing(under, "/region/us-east-1/", "/claims/")
	if _, err := eu.Txn(ctx, store.Txn{
		Compares: []store.Compare{{Key: "/claims/80"}},
		Ops:      []store.Op{{Key: "/claims/80", Value: []byte("eu")}, {Key: "/own/a", Value: []byte("1")}},
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"/claims/80", "/region/eu-west-1//own/a"} {
		if _, err := under.Get(ctx, k); err != nil {
			t.Fatalf("%s of the store: %v", k, err)
		}
	}
	kv, err := us.Get(ctx, "/claims/80")
	if err != nil || string(kv.Value) != "eu" || kv.Key != "/claims/80" {
		t.Fatalf("the other view's shared key: %+v %v", kv, err)
	}
	// The claim, compared absent, is taken: nothing of the transaction is
	// written.
	_, err = us.Txn(ctx, store.Txn{
		Compares: []store.Compare{{Key: "/claims/80"}},
		Ops:      []store.Op{{Key: "/claims/80", Value: []byte("us")}, {Key: "/own/b", Value: []byte("1")}},
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("claiming a key the other view holds: %v, want ErrConflict", err)
	}
	if _, err := us.Get(ctx, "/own/b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the own key of a failed transaction: %v", err)
	}
	kvs, _, err := us.List(ctx, "/claims/", store.ListOptions{})
	if err != nil || len(kvs) != 1 || kvs[0].Key != "/claims/80" {
		t.Fatalf("List of the shared prefix: %+v %v", kvs, err)
	}
	kvs, _, err = eu.List(ctx, "", store.ListOptions{})
	if err != nil || len(kvs) != 1 || kvs[0].Key != "/own/a" {
		t.Fatalf("List of the view's keys: %+v %v", kvs, err)
	}
}
