// Package storetest is the conformance suite of the state store: every
// backend of store.Store runs Run against real instances of itself, so that
// callers can rely on the contract of package store whatever the backend.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/flotilla/flotilla/internal/store"
)

// Compactor is implemented by backends whose event history can be discarded
// on demand. The suite uses it to check store.ErrCompacted, so every backend
// must implement it.
type Compactor interface {
	// Compact discards the history up to and including revision rev:
	// afterwards Watch from a revision below rev returns
	// store.ErrCompacted, and Watch from rev still works. rev is at most
	// the current revision.
	Compact(ctx context.Context, rev int64) error
}

// Run runs the conformance suite. open must return a new, empty store that
// nobody else writes to while the test runs, and arrange for it to be closed
// at the end of the test; that cleanup must accept store.ErrClosed, because
// some tests close the store themselves.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"Revisions", testRevisions},
		{"ValuesAreCopied", testValuesAreCopied},
		{"EmptyAndLargeValues", testEmptyAndLargeValues},
		{"CreateOnly", testCreateOnly},
		{"CompareAndSwap", testCompareAndSwap},
		{"ConflictWritesNothing", testConflictWritesNothing},
		{"MultiOp", testMultiOp},
		{"CompareOnly", testCompareOnly},
		{"DuplicateOpKeys", testDuplicateOpKeys},
		{"List", testList},
		{"ListPagination", testListPagination},
		{"ListRevision", testListRevision},
		{"WatchFromNow", testWatchFromNow},
		{"WatchReplay", testWatchReplay},
		{"WatchPrefix", testWatchPrefix},
		{"WatchMultiOp", testWatchMultiOp},
		{"WatchConcurrentWriters", testWatchConcurrentWriters},
		{"WatchCompacted", testWatchCompacted},
		{"WatchCancel", testWatchCancel},
		{"Close", testClose},
		{"ConcurrentCounter", testConcurrentCounter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

func put(t *testing.T, s store.Store, key, value string) int64 {
	t.Helper()
	rev, err := s.Txn(t.Context(), store.Txn{Ops: []store.Op{{Key: key, Value: []byte(value)}}})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return rev
}

func del(t *testing.T, s store.Store, key string) int64 {
	t.Helper()
	rev, err := s.Txn(t.Context(), store.Txn{Ops: []store.Op{{Key: key, Delete: true}}})
	if err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
	return rev
}

func get(t *testing.T, s store.Store, key string) *store.KV {
	t.Helper()
	kv, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return kv
}

func rev(t *testing.T, s store.Store) int64 {
	t.Helper()
	r, err := s.Rev(t.Context())
	if err != nil {
		t.Fatalf("rev: %v", err)
	}
	return r
}

func wantMissing(t *testing.T, s store.Store, key string) {
	t.Helper()
	if kv, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get %s = %+v, %v; want ErrNotFound", key, kv, err)
	}
}

func wantKV(t *testing.T, got *store.KV, want store.KV) {
	t.Helper()
	if got == nil {
		t.Fatalf("got no KV, want %s", fmtKV(&want))
	}
	if got.Key != want.Key || !bytes.Equal(got.Value, want.Value) || got.CreateRevision != want.CreateRevision ||
		got.ModRevision != want.ModRevision || got.Version != want.Version {
		t.Fatalf("got %s, want %s", fmtKV(got), fmtKV(&want))
	}
}

func fmtKV(kv *store.KV) string {
	if kv == nil {
		return "<nil>"
	}
	return fmt.Sprintf("{%s=%q create=%d mod=%d version=%d}", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version)
}

func fmtEvent(ev store.Event) string {
	typ := map[store.EventType]string{store.EventPut: "put", store.EventDelete: "delete"}[ev.Type]
	if typ == "" {
		typ = fmt.Sprintf("type(%d)", ev.Type)
	}
	return fmt.Sprintf("%s %s prev=%s", typ, fmtKV(&ev.KV), fmtKV(ev.PrevKV))
}

// recv returns the next event; a hang is left to go test's -timeout, which
// also prints every goroutine.
func recv(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	ev, ok := <-ch
	if !ok {
		t.Fatal("watch channel closed, want an event")
	}
	return ev
}

// drain reads ch until it is closed.
func drain(ch <-chan store.Event) {
	for range ch {
	}
}

func testGetMissing(t *testing.T, s store.Store) {
	wantMissing(t, s, "missing")
}

func testPutGet(t *testing.T, s store.Store) {
	r := put(t, s, "k", "v1")
	if r <= 0 {
		t.Fatalf("put returned revision %d, want > 0", r)
	}
	wantKV(t, get(t, s, "k"), store.KV{Key: "k", Value: []byte("v1"), CreateRevision: r, ModRevision: r, Version: 1})
	wantMissing(t, s, "k2")
}

func testUpdate(t *testing.T, s store.Store) {
	r1 := put(t, s, "k", "v1")
	r2 := put(t, s, "k", "v2")
	r3 := put(t, s, "k", "v3")
	if !(r1 < r2 && r2 < r3) {
		t.Fatalf("revisions %d, %d, %d do not increase", r1, r2, r3)
	}
	wantKV(t, get(t, s, "k"), store.KV{Key: "k", Value: []byte("v3"), CreateRevision: r1, ModRevision: r3, Version: 3})
}

func testDelete(t *testing.T, s store.Store) {
	r1 := put(t, s, "k", "v1")
	put(t, s, "k", "v2")
	r3 := del(t, s, "k")
	if got := rev(t, s); got != r3 {
		t.Fatalf("rev after delete = %d, want %d", got, r3)
	}
	wantMissing(t, s, "k")
	r4 := put(t, s, "k", "v3")
	if r4 <= r3 || r3 <= r1 {
		t.Fatalf("revisions %d, %d, %d do not increase", r1, r3, r4)
	}
	wantKV(t, get(t, s, "k"), store.KV{Key: "k", Value: []byte("v3"), CreateRevision: r4, ModRevision: r4, Version: 1})
}

// testDeleteMissing: as in etcd, a transaction that changes nothing creates
// no revision.
func testDeleteMissing(t *testing.T, s store.Store) {
	r1 := put(t, s, "other", "v")
	if r := del(t, s, "missing"); r != r1 {
		t.Fatalf("delete of a missing key returned revision %d, want the current %d", r, r1)
	}
	if r := rev(t, s); r != r1 {
		t.Fatalf("rev = %d after deleting a missing key, want %d", r, r1)
	}
}

func testRevisions(t *testing.T, s store.Store) {
	r0 := rev(t, s)
	if r0 < 0 {
		t.Fatalf("rev = %d", r0)
	}
	last := r0
	for i := range 5 {
		r := put(t, s, fmt.Sprintf("k%d", i%2), "v")
		if r != last+1 {
			t.Fatalf("txn %d: revision %d, want %d (one new revision per transaction)", i, r, last+1)
		}
		if got := rev(t, s); got != r {
			t.Fatalf("rev = %d after a txn at %d", got, r)
		}
		last = r
	}
	wantKV(t, get(t, s, "k0"), store.KV{Key: "k0", Value: []byte("v"), CreateRevision: r0 + 1, ModRevision: r0 + 5, Version: 3})
	wantKV(t, get(t, s, "k1"), store.KV{Key: "k1", Value: []byte("v"), CreateRevision: r0 + 2, ModRevision: r0 + 4, Version: 2})
}

func testValuesAreCopied(t *testing.T, s store.Store) {
	v := []byte("original")
	if _, err := s.Txn(t.Context(), store.Txn{Ops: []store.Op{{Key: "k", Value: v}}}); err != nil {
		t.Fatal(err)
	}
	copy(v, "MODIFIED")
	kv := get(t, s, "k")
	if string(kv.Value) != "original" {
		t.Fatalf("stored value changed with the caller's slice: %q", kv.Value)
	}
	copy(kv.Value, "MODIFIED")
	if kv := get(t, s, "k"); string(kv.Value) != "original" {
		t.Fatalf("stored value changed with a returned slice: %q", kv.Value)
	}
	kvs, _, err := s.List(t.Context(), "k", store.ListOptions{})
	if err != nil || len(kvs) != 1 {
		t.Fatalf("list = %v, %v", kvs, err)
	}
	copy(kvs[0].Value, "MODIFIED")
	if kv := get(t, s, "k"); string(kv.Value) != "original" {
		t.Fatalf("stored value changed with a listed slice: %q", kv.Value)
	}
}

func testEmptyAndLargeValues(t *testing.T, s store.Store) {
	r := put(t, s, "empty", "")
	wantKV(t, get(t, s, "empty"), store.KV{Key: "empty", Value: nil, CreateRevision: r, ModRevision: r, Version: 1})
	large := bytes.Repeat([]byte("0123456789abcdef"), 32<<10) // 512 KiB
	r, err := s.Txn(t.Context(), store.Txn{Ops: []store.Op{{Key: "large", Value: large}}})
	if err != nil {
		t.Fatal(err)
	}
	wantKV(t, get(t, s, "large"), store.KV{Key: "large", Value: large, CreateRevision: r, ModRevision: r, Version: 1})
	key := "unicode/é/ü/\u2603/x y"
	put(t, s, key, "snow")
	if kv := get(t, s, key); string(kv.Value) != "snow" {
		t.Fatalf("get %q = %q", key, kv.Value)
	}
}

func testCreateOnly(t *testing.T, s store.Store) {
	create := func(v string) (int64, error) {
		return s.Txn(t.Context(), store.Txn{
			Compares: []store.Compare{{Key: "k", ModRevision: 0}},
			Ops:      []store.Op{{Key: "k", Value: []byte(v)}},
		})
	}
	r, err := create("first")
	if err != nil {
		t.Fatalf("create of a missing key: %v", err)
	}
	if _, err := create("second"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create of an existing key: %v, want ErrConflict", err)
	}
	wantKV(t, get(t, s, "k"), store.KV{Key: "k", Value: []byte("first"), CreateRevision: r, ModRevision: r, Version: 1})
	del(t, s, "k")
	if _, err := create("third"); err != nil {
		t.Fatalf("create of a deleted key: %v", err)
	}
}

func testCompareAndSwap(t *testing.T, s store.Store) {
	r1 := put(t, s, "k", "v1")
	cas := func(mod int64, v string) (int64, error) {
		return s.Txn(t.Context(), store.Txn{
			Compares: []store.Compare{{Key: "k", ModRevision: mod}},
			Ops:      []store.Op{{Key: "k", Value: []byte(v)}},
		})
	}
	r2, err := cas(r1, "v2")
	if err != nil {
		t.Fatalf("cas at the current revision: %v", err)
	}
	if _, err := cas(r1, "v3"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("cas at a stale revision: %v, want ErrConflict", err)
	}
	if _, err := cas(r2+100, "v3"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("cas at a future revision: %v, want ErrConflict", err)
	}
	wantKV(t, get(t, s, "k"), store.KV{Key: "k", Value: []byte("v2"), CreateRevision: r1, ModRevision: r2, Version: 2})
	// A delete guarded by the current revision.
	if _, err := s.Txn(t.Context(), store.Txn{
		Compares: []store.Compare{{Key: "k", ModRevision: r2}},
		Ops:      []store.Op{{Key: "k", Delete: true}},
	}); err != nil {
		t.Fatalf("guarded delete: %v", err)
	}
	wantMissing(t, s, "k")
}

func testConflictWritesNothing(t *testing.T, s store.Store) {
	ra := put(t, s, "a", "a1")
	put(t, s, "c", "c1")
	before := rev(t, s)
	_, err := s.Txn(t.Context(), store.Txn{
		Compares: []store.Compare{
			{Key: "a", ModRevision: ra}, // holds
			{Key: "c", ModRevision: 0},  // fails: c exists
		},
		Ops: []store.Op{
			{Key: "a", Value: []byte("a2")},
			{Key: "b", Value: []byte("b1")},
			{Key: "c", Delete: true},
		},
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("txn = %v, want ErrConflict", err)
	}
	if got := rev(t, s); got != before {
		t.Fatalf("rev = %d after a conflict, want %d", got, before)
	}
	if kv := get(t, s, "a"); string(kv.Value) != "a1" || kv.ModRevision != ra {
		t.Fatalf("a = %s after a conflict", fmtKV(kv))
	}
	wantMissing(t, s, "b")
	if kv := get(t, s, "c"); string(kv.Value) != "c1" {
		t.Fatalf("c = %s after a conflict", fmtKV(kv))
	}
}

func testMultiOp(t *testing.T, s store.Store) {
	ra := put(t, s, "a", "a1")
	put(t, s, "c", "c1")
	before := rev(t, s)
	r, err := s.Txn(t.Context(), store.Txn{
		Compares: []store.Compare{{Key: "a", ModRevision: ra}, {Key: "b", ModRevision: 0}},
		Ops: []store.Op{
			{Key: "a", Value: []byte("a2")},
			{Key: "b", Value: []byte("b1")},
			{Key: "c", Delete: true},
			{Key: "d", Delete: true}, // missing: a no-op
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r != before+1 {
		t.Fatalf("revision %d, want %d: one new revision per transaction", r, before+1)
	}
	wantKV(t, get(t, s, "a"), store.KV{Key: "a", Value: []byte("a2"), CreateRevision: ra, ModRevision: r, Version: 2})
	wantKV(t, get(t, s, "b"), store.KV{Key: "b", Value: []byte("b1"), CreateRevision: r, ModRevision: r, Version: 1})
	wantMissing(t, s, "c")
	wantMissing(t, s, "d")
}

func testCompareOnly(t *testing.T, s store.Store) {
	r := put(t, s, "k", "v")
	got, err := s.Txn(t.Context(), store.Txn{Compares: []store.Compare{{Key: "k", ModRevision: r}, {Key: "missing", ModRevision: 0}}})
	if err != nil || got != r {
		t.Fatalf("txn without ops = %d, %v; want %d, nil", got, err, r)
	}
	if _, err := s.Txn(t.Context(), store.Txn{Compares: []store.Compare{{Key: "k", ModRevision: r - 1}}}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("txn without ops and a failing compare = %v, want ErrConflict", err)
	}
	if got := rev(t, s); got != r {
		t.Fatalf("rev = %d after txns without ops, want %d", got, r)
	}
}

func testDuplicateOpKeys(t *testing.T, s store.Store) {
	before := put(t, s, "other", "v")
	_, err := s.Txn(t.Context(), store.Txn{Ops: []store.Op{
		{Key: "k", Value: []byte("1")},
		{Key: "x", Value: []byte("x")},
		{Key: "k", Delete: true},
	}})
	if err == nil || errors.Is(err, store.ErrConflict) {
		t.Fatalf("txn with two ops on one key = %v, want a non-conflict error", err)
	}
	wantMissing(t, s, "k")
	wantMissing(t, s, "x")
	if got := rev(t, s); got != before {
		t.Fatalf("rev = %d after a rejected txn, want %d", got, before)
	}
}

func listKeys(kvs []store.KV) []string {
	keys := make([]string, len(kvs))
	for i, kv := range kvs {
		keys[i] = kv.Key
	}
	return keys
}

func testList(t *testing.T, s store.Store) {
	revs := map[string]int64{}
	for _, k := range []string{"a/3", "b", "a/1", "ab", "a", "a/2", "a/2/x"} {
		revs[k] = put(t, s, k, "v:"+k)
	}
	last := rev(t, s)
	tests := []struct {
		prefix string
		want   []string
	}{
		{"a/", []string{"a/1", "a/2", "a/2/x", "a/3"}},
		{"a", []string{"a", "a/1", "a/2", "a/2/x", "a/3", "ab"}},
		{"", []string{"a", "a/1", "a/2", "a/2/x", "a/3", "ab", "b"}},
		{"b", []string{"b"}},
		{"c", nil},
		{"a/2/x/", nil},
	}
	for _, tc := range tests {
		kvs, r, err := s.List(t.Context(), tc.prefix, store.ListOptions{})
		if err != nil {
			t.Fatalf("list %q: %v", tc.prefix, err)
		}
		if r != last {
			t.Errorf("list %q: revision %d, want %d", tc.prefix, r, last)
		}
		if got := listKeys(kvs); !slices.Equal(got, tc.want) {
			t.Errorf("list %q = %q, want %q", tc.prefix, got, tc.want)
		}
		for _, kv := range kvs {
			if string(kv.Value) != "v:"+kv.Key || kv.ModRevision != revs[kv.Key] || kv.CreateRevision != revs[kv.Key] || kv.Version != 1 {
				t.Errorf("list %q: %s", tc.prefix, fmtKV(&kv))
			}
		}
	}
}

func testListPagination(t *testing.T, s store.Store) {
	var want []string
	for i := range 25 {
		k := fmt.Sprintf("p/%02d", i)
		want = append(want, k)
		put(t, s, k, "v")
	}
	put(t, s, "o", "outside")
	put(t, s, "q", "outside")

	var got []string
	var sizes []int
	opts := store.ListOptions{Limit: 7}
	for {
		kvs, _, err := s.List(t.Context(), "p/", opts)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(kvs))
		got = append(got, listKeys(kvs)...)
		if len(kvs) < opts.Limit {
			break
		}
		opts.StartAfter = kvs[len(kvs)-1].Key
		if len(sizes) > 10 {
			t.Fatalf("pagination does not end: pages %v", sizes)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages = %q, want %q", got, want)
	}
	if !slices.Equal(sizes, []int{7, 7, 7, 4}) {
		t.Fatalf("page sizes = %v, want [7 7 7 4]", sizes)
	}

	tests := []struct {
		opts store.ListOptions
		want []string
	}{
		{store.ListOptions{StartAfter: "p/05x", Limit: 2}, []string{"p/06", "p/07"}},
		{store.ListOptions{StartAfter: "a", Limit: 2}, []string{"p/00", "p/01"}},
		{store.ListOptions{StartAfter: "p/", Limit: 1}, []string{"p/00"}},
		{store.ListOptions{StartAfter: "p/23"}, []string{"p/24"}},
		{store.ListOptions{StartAfter: "p/24"}, nil},
		{store.ListOptions{StartAfter: "q", Limit: 3}, nil},
		{store.ListOptions{Limit: 100}, want},
	}
	for _, tc := range tests {
		kvs, _, err := s.List(t.Context(), "p/", tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := listKeys(kvs); !slices.Equal(got, tc.want) {
			t.Errorf("list p/ %+v = %q, want %q", tc.opts, got, tc.want)
		}
	}
}

func testListRevision(t *testing.T, s store.Store) {
	r1 := put(t, s, "x/1", "v")
	_, lr, err := s.List(t.Context(), "x/", store.ListOptions{})
	if err != nil || lr != r1 {
		t.Fatalf("list = rev %d, %v; want %d", lr, err, r1)
	}
	r2 := put(t, s, "y/1", "v") // outside the prefix: the revision still moves
	_, lr, err = s.List(t.Context(), "x/", store.ListOptions{})
	if err != nil || lr != r2 {
		t.Fatalf("list = rev %d, %v; want %d", lr, err, r2)
	}
}

func wantEvent(t *testing.T, got store.Event, typ store.EventType, kv store.KV, prev *store.KV) {
	t.Helper()
	ok := got.Type == typ && got.KV.Key == kv.Key && bytes.Equal(got.KV.Value, kv.Value) &&
		got.KV.ModRevision == kv.ModRevision
	if typ == store.EventPut {
		ok = ok && got.KV.CreateRevision == kv.CreateRevision && got.KV.Version == kv.Version
	}
	switch {
	case prev == nil:
		ok = ok && got.PrevKV == nil
	case got.PrevKV == nil:
		ok = false
	default:
		p := got.PrevKV
		ok = ok && p.Key == prev.Key && bytes.Equal(p.Value, prev.Value) && p.CreateRevision == prev.CreateRevision &&
			p.ModRevision == prev.ModRevision && p.Version == prev.Version
	}
	if !ok {
		want := store.Event{Type: typ, KV: kv, PrevKV: prev}
		t.Fatalf("event\n got %s\nwant %s", fmtEvent(got), fmtEvent(want))
	}
}

func testWatchFromNow(t *testing.T, s store.Store) {
	put(t, s, "w/before", "old") // not replayed: the watch starts after it
	ch, err := s.Watch(t.Context(), "w/", 0)
	if err != nil {
		t.Fatal(err)
	}
	r1 := put(t, s, "w/k", "v1")
	r2 := put(t, s, "w/k", "v2")
	r3 := del(t, s, "w/k")
	v1 := store.KV{Key: "w/k", Value: []byte("v1"), CreateRevision: r1, ModRevision: r1, Version: 1}
	v2 := store.KV{Key: "w/k", Value: []byte("v2"), CreateRevision: r1, ModRevision: r2, Version: 2}
	wantEvent(t, recv(t, ch), store.EventPut, v1, nil)
	wantEvent(t, recv(t, ch), store.EventPut, v2, &v1)
	wantEvent(t, recv(t, ch), store.EventDelete, store.KV{Key: "w/k", ModRevision: r3}, &v2)
}

func testWatchReplay(t *testing.T, s store.Store) {
	r1 := put(t, s, "w/a", "a1")
	r2 := put(t, s, "w/b", "b1")
	put(t, s, "other", "x")
	r4 := del(t, s, "w/a")
	a1 := store.KV{Key: "w/a", Value: []byte("a1"), CreateRevision: r1, ModRevision: r1, Version: 1}
	b1 := store.KV{Key: "w/b", Value: []byte("b1"), CreateRevision: r2, ModRevision: r2, Version: 1}

	ch, err := s.Watch(t.Context(), "w/", r1)
	if err != nil {
		t.Fatal(err)
	}
	wantEvent(t, recv(t, ch), store.EventPut, b1, nil)
	wantEvent(t, recv(t, ch), store.EventDelete, store.KV{Key: "w/a", ModRevision: r4}, &a1)
	r5 := put(t, s, "w/b", "b2") // live, after the replay
	b2 := store.KV{Key: "w/b", Value: []byte("b2"), CreateRevision: r2, ModRevision: r5, Version: 2}
	wantEvent(t, recv(t, ch), store.EventPut, b2, &b1)

	// From the current revision: nothing to replay, the next event is live.
	ch, err = s.Watch(t.Context(), "w/", r5)
	if err != nil {
		t.Fatal(err)
	}
	r6 := put(t, s, "w/c", "c1")
	wantEvent(t, recv(t, ch), store.EventPut, store.KV{Key: "w/c", Value: []byte("c1"), CreateRevision: r6, ModRevision: r6, Version: 1}, nil)
}

func testWatchPrefix(t *testing.T, s store.Store) {
	r0 := put(t, s, "init", "")
	ch, err := s.Watch(t.Context(), "x/", 0)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "y/1", "no")
	put(t, s, "x", "no")
	put(t, s, "xx/1", "no")
	r := put(t, s, "x/1", "yes")
	wantEvent(t, recv(t, ch), store.EventPut, store.KV{Key: "x/1", Value: []byte("yes"), CreateRevision: r, ModRevision: r, Version: 1}, nil)

	// The same filter applies to replayed events.
	ch, err = s.Watch(t.Context(), "x/", r0)
	if err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, ch); ev.KV.Key != "x/1" {
		t.Fatalf("replay: first event %s, want x/1", fmtEvent(ev))
	}
}

func testWatchMultiOp(t *testing.T, s store.Store) {
	put(t, s, "m/c", "c1")
	ch, err := s.Watch(t.Context(), "m/", 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Txn(t.Context(), store.Txn{Ops: []store.Op{
		{Key: "m/a", Value: []byte("a")},
		{Key: "m/b", Value: []byte("b")},
		{Key: "m/c", Delete: true},
		{Key: "n/x", Value: []byte("outside")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.EventType{}
	for range 3 {
		ev := recv(t, ch)
		if ev.KV.ModRevision != r {
			t.Fatalf("event %s: want revision %d", fmtEvent(ev), r)
		}
		got[ev.KV.Key] = ev.Type
	}
	want := map[string]store.EventType{"m/a": store.EventPut, "m/b": store.EventPut, "m/c": store.EventDelete}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// testWatchConcurrentWriters checks ordered delivery, without gaps or
// duplicates, to a watch from now and to a watch started from a past revision
// while the writers run (replay, then live events).
func testWatchConcurrentWriters(t *testing.T, s store.Store) {
	const writers, perWriter = 8, 40
	start := put(t, s, "init", "") // > 0: Watch from 0 would mean from now
	live, err := s.Watch(t.Context(), "c/", 0)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		revs     []int64
		wg       sync.WaitGroup
		half     = make(chan struct{})
		halfOnce sync.Once
		count    int
	)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				r, err := s.Txn(context.Background(), store.Txn{Ops: []store.Op{{Key: fmt.Sprintf("c/%d/%d", w, i), Value: []byte("v")}}})
				if err != nil {
					t.Errorf("put: %v", err)
					return
				}
				mu.Lock()
				revs = append(revs, r)
				if count++; count == writers*perWriter/2 {
					halfOnce.Do(func() { close(half) })
				}
				mu.Unlock()
			}
		})
	}
	// Other keys move the revision too, without events for c/.
	wg.Go(func() {
		for i := range perWriter {
			if _, err := s.Txn(context.Background(), store.Txn{Ops: []store.Op{{Key: fmt.Sprintf("d/%d", i), Value: []byte("v")}}}); err != nil {
				t.Errorf("put: %v", err)
				return
			}
		}
	})
	go func() {
		wg.Wait()
		halfOnce.Do(func() { close(half) }) // when writers failed early
	}()
	<-half
	replayed, err := s.Watch(t.Context(), "c/", start)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	slices.Sort(revs)
	for name, ch := range map[string]<-chan store.Event{"from now": live, "from a past revision": replayed} {
		got := make([]int64, 0, len(revs))
		for range revs {
			ev := recv(t, ch)
			if ev.Type != store.EventPut || len(ev.KV.Key) < 2 || ev.KV.Key[:2] != "c/" {
				t.Fatalf("watch %s: unexpected event %s", name, fmtEvent(ev))
			}
			got = append(got, ev.KV.ModRevision)
		}
		if !slices.Equal(got, revs) {
			t.Fatalf("watch %s: revisions\n got %v\nwant %v", name, got, revs)
		}
	}
}

func testWatchCompacted(t *testing.T, s store.Store) {
	c, ok := s.(Compactor)
	if !ok {
		t.Fatalf("%T does not implement storetest.Compactor", s)
	}
	r1 := put(t, s, "k/1", "v")
	r2 := put(t, s, "k/2", "v")
	r3 := put(t, s, "k/3", "v")
	put(t, s, "k/4", "v")
	if err := c.Compact(t.Context(), r2); err != nil {
		t.Fatalf("compact: %v", err)
	}
	for _, from := range []int64{r1, r2 - 1} {
		if _, err := s.Watch(t.Context(), "k/", from); !errors.Is(err, store.ErrCompacted) {
			t.Fatalf("watch from %d after compacting to %d: %v, want ErrCompacted", from, r2, err)
		}
	}
	ch, err := s.Watch(t.Context(), "k/", r2)
	if err != nil {
		t.Fatalf("watch from the compaction revision: %v", err)
	}
	if ev := recv(t, ch); ev.KV.ModRevision != r3 {
		t.Fatalf("first event %s, want revision %d", fmtEvent(ev), r3)
	}
	// Reads and watches from now are unaffected.
	if kv := get(t, s, "k/1"); kv.ModRevision != r1 {
		t.Fatalf("k/1 = %s after compaction", fmtKV(kv))
	}
	if _, err := s.Watch(t.Context(), "k/", 0); err != nil {
		t.Fatalf("watch from now after compaction: %v", err)
	}
}

func testWatchCancel(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := s.Watch(ctx, "k/", 0)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "k/1", "v")
	cancel()
	drain(ch) // returns once the store closes the channel
	// Writes go on after a watcher left.
	put(t, s, "k/2", "v")
}

func testClose(t *testing.T, s store.Store) {
	ctx := t.Context()
	put(t, s, "k", "v")
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	drain(ch)
	checks := map[string]error{}
	_, checks["Get"] = s.Get(ctx, "k")
	_, _, checks["List"] = s.List(ctx, "", store.ListOptions{})
	_, checks["Txn"] = s.Txn(ctx, store.Txn{Ops: []store.Op{{Key: "k", Value: []byte("v2")}}})
	_, checks["Watch"] = s.Watch(ctx, "", 0)
	_, checks["Rev"] = s.Rev(ctx)
	checks["Close"] = s.Close()
	for name, err := range checks {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// testConcurrentCounter increments one counter with read-then-CAS from many
// goroutines; no increment may be lost.
func testConcurrentCounter(t *testing.T, s store.Store) {
	const workers, perWorker = 16, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				if err := increment(context.Background(), s, "counter"); err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if kv := get(t, s, "counter"); string(kv.Value) != fmt.Sprint(workers*perWorker) || kv.Version != workers*perWorker {
		t.Fatalf("counter = %s, want %d increments", fmtKV(kv), workers*perWorker)
	}
}

func increment(ctx context.Context, s store.Store, key string) error {
	for {
		var n, mod int64
		kv, err := s.Get(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			mod = kv.ModRevision
			if _, err := fmt.Sscan(string(kv.Value), &n); err != nil {
				return fmt.Errorf("counter %q: %w", kv.Value, err)
			}
		}
		_, err = s.Txn(ctx, store.Txn{
			Compares: []store.Compare{{Key: key, ModRevision: mod}},
			Ops:      []store.Op{{Key: key, Value: fmt.Append(nil, n+1)}},
		})
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
}
