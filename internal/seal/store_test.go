package seal_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/seal"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
	"github.com/flotilla/flotilla/internal/store/storetest"
)

func keyring(t *testing.T) *seal.Keyring {
	t.Helper()
	k, _, err := seal.LoadOrCreate(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openBolt(t *testing.T, path string) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestConformance runs the store contract over a sealing store that seals
// every key.
func TestConformance(t *testing.T) {
	k := keyring(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return seal.NewStore(openBolt(t, filepath.Join(t.TempDir(), "state.db")), k, "")
	})
}

// TestStoreSeals checks that the values under the prefixes reach the file
// sealed, the others as they are, and that Migrate seals what was written
// before, once.
func TestStoreSeals(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	raw := openBolt(t, path)
	secret := []byte(`{"secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`)
	old := []byte(`{"privateKeyPem":"-----BEGIN PRIVATE KEY-----old"}`)
	if _, err := raw.Txn(ctx, store.Txn{Ops: []store.Op{{Key: "/keys/old", Value: old}}}); err != nil {
		t.Fatal(err)
	}
	st := seal.NewStore(raw, keyring(t), "/keys/")
	if _, err := st.Txn(ctx, store.Txn{Ops: []store.Op{{Key: "/keys/a", Value: secret}, {Key: "/plain/a", Value: secret}}}); err != nil {
		t.Fatal(err)
	}
	if kv, _ := raw.Get(ctx, "/keys/a"); !seal.IsSealed(kv.Value) || bytes.Contains(kv.Value, []byte("wJalr")) {
		t.Fatalf("stored /keys/a = %q, want it sealed", kv.Value)
	}
	if kv, _ := raw.Get(ctx, "/plain/a"); !bytes.Equal(kv.Value, secret) {
		t.Fatalf("stored /plain/a = %q, want it as written", kv.Value)
	}
	if kv, err := st.Get(ctx, "/keys/a"); err != nil || !bytes.Equal(kv.Value, secret) {
		t.Fatalf("Get = %v, %v", kv, err)
	}
	kvs, _, err := st.List(ctx, "/", store.ListOptions{})
	if err != nil || len(kvs) != 3 || !bytes.Equal(kvs[0].Value, secret) || !bytes.Equal(kvs[1].Value, old) {
		t.Fatalf("List = %+v, %v", kvs, err)
	}

	n, err := st.Migrate(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Migrate = %d, %v; want 1 sealed", n, err)
	}
	if kv, _ := raw.Get(ctx, "/keys/old"); !seal.IsSealed(kv.Value) {
		t.Fatalf("after Migrate, stored /keys/old = %q", kv.Value)
	}
	if kv, err := st.Get(ctx, "/keys/old"); err != nil || !bytes.Equal(kv.Value, old) {
		t.Fatalf("Get after Migrate = %v, %v", kv, err)
	}
	if n, err := st.Migrate(ctx); err != nil || n != 0 {
		t.Fatalf("second Migrate = %d, %v; want 0", n, err)
	}

	// A watch sees values and previous values opened.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rev, _ := st.Rev(ctx)
	ch, err := st.Watch(wctx, "/keys/", rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Txn(ctx, store.Txn{Ops: []store.Op{{Key: "/keys/a", Value: []byte("new")}}}); err != nil {
		t.Fatal(err)
	}
	ev := <-ch
	if string(ev.KV.Value) != "new" || ev.PrevKV == nil || !bytes.Equal(ev.PrevKV.Value, secret) {
		t.Fatalf("event %+v", ev)
	}

	// Another key does not open what this one sealed.
	other := seal.NewStore(raw, keyring(t), "/keys/")
	if _, err := other.Get(ctx, "/keys/a"); err == nil {
		t.Fatal("a store with another key opened the value")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestStoreSealsOtherRegions checks that the values under the prefixes in
// another region's keys (flotilla.RegionKeyPrefix) reach the file sealed,
// for their full key, and that Migrate seals those written before.
func TestStoreSealsOtherRegions(t *testing.T) {
	ctx := context.Background()
	raw := openBolt(t, filepath.Join(t.TempDir(), "state.db"))
	secret := []byte(`{"secretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`)
	for _, key := range []string{"/region/eu-west-1//keys/old", "/region/us-west-2//keys/old", "/region/us-west-2//plain/old"} {
		if _, err := raw.Txn(ctx, store.Txn{Ops: []store.Op{{Key: key, Value: secret}}}); err != nil {
			t.Fatal(err)
		}
	}
	k := keyring(t)
	st := seal.NewStore(raw, k, "/keys/")
	n, err := st.Migrate(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Migrate = %d, %v; want 2 sealed", n, err)
	}
	eu := store.WithPrefix(st, "/region/eu-west-1/")
	if _, err := eu.Txn(ctx, store.Txn{Ops: []store.Op{{Key: "/keys/a", Value: secret}, {Key: "/plain/a", Value: secret}}}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"/region/eu-west-1//keys/a", "/region/eu-west-1//keys/old", "/region/us-west-2//keys/old"} {
		kv, err := raw.Get(ctx, key)
		if err != nil || !seal.IsSealed(kv.Value) || bytes.Contains(kv.Value, []byte("wJalr")) {
			t.Fatalf("stored %s = %v, %v; want it sealed", key, kv, err)
		}
		// Sealed for the full key: another key's value does not open as it.
		if _, err := k.Open(kv.Value, flotilla.RegionLocalKey(key)); err == nil {
			t.Fatalf("%s is sealed for its key in the region's view, not its own", key)
		}
		if v, err := st.Get(ctx, key); err != nil || !bytes.Equal(v.Value, secret) {
			t.Fatalf("Get %s = %v, %v", key, v, err)
		}
	}
	for _, key := range []string{"/region/eu-west-1//plain/a", "/region/us-west-2//plain/old"} {
		if kv, _ := raw.Get(ctx, key); !bytes.Equal(kv.Value, secret) {
			t.Fatalf("stored %s = %q, want it as written", key, kv.Value)
		}
	}
	if kv, err := eu.Get(ctx, "/keys/a"); err != nil || !bytes.Equal(kv.Value, secret) {
		t.Fatalf("region view Get = %v, %v", kv, err)
	}
}
