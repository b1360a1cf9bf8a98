package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/storetest"
)

func open(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
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

func tempPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "state.db")
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, tempPath(t), Options{})
	})
}

func put(t *testing.T, s *Store, key, value string) int64 {
	t.Helper()
	rev, err := s.Txn(t.Context(), store.Txn{Ops: []store.Op{{Key: key, Value: []byte(value)}}})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return rev
}

func TestReopen(t *testing.T) {
	path := tempPath(t)
	s := open(t, path, Options{})
	r1 := put(t, s, "a", "a1")
	r2 := put(t, s, "a", "a2")
	r3 := put(t, s, "b", "b1")
	if _, err := s.Txn(t.Context(), store.Txn{Ops: []store.Op{{Key: "b", Delete: true}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, Options{})
	if r, err := s.Rev(t.Context()); err != nil || r != r3+1 {
		t.Fatalf("rev after reopen = %d, %v; want %d", r, err, r3+1)
	}
	kv, err := s.Get(t.Context(), "a")
	if err != nil || string(kv.Value) != "a2" || kv.CreateRevision != r1 || kv.ModRevision != r2 || kv.Version != 2 {
		t.Fatalf("a after reopen = %+v, %v", kv, err)
	}
	if _, err := s.Get(t.Context(), "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("b after reopen: %v, want ErrNotFound", err)
	}
	// History survives the restart.
	ch, err := s.Watch(t.Context(), "", r1)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{r2, r3, r3 + 1} {
		if ev := <-ch; ev.KV.ModRevision != want {
			t.Fatalf("replayed event at %d, want %d", ev.KV.ModRevision, want)
		}
	}
	if r := put(t, s, "c", "c1"); r != r3+2 {
		t.Fatalf("first revision after reopen = %d, want %d", r, r3+2)
	}
	if ev := <-ch; ev.KV.Key != "c" || ev.KV.ModRevision != r3+2 {
		t.Fatalf("live event after replay: %+v", ev)
	}
}

func TestHistoryLimit(t *testing.T) {
	s := open(t, tempPath(t), Options{HistoryLimit: 5})
	for i := range 10 {
		put(t, s, fmt.Sprintf("k/%d", i), "v")
	}
	// Revisions 6..10 are kept: watching from 5 works, from 4 does not.
	if _, err := s.Watch(t.Context(), "k/", 4); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("watch from 4: %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(t.Context(), "k/", 5)
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(6); want <= 10; want++ {
		if ev := <-ch; ev.KV.ModRevision != want {
			t.Fatalf("event at %d, want %d", ev.KV.ModRevision, want)
		}
	}
	// The events bucket holds exactly the kept revisions.
	tx, err := s.db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if n := tx.Bucket(bucketEvents).Stats().KeyN; n != 5 {
		t.Fatalf("events bucket holds %d revisions, want 5", n)
	}
}

// TestWatchOverflow: a watcher that does not read is dropped without
// blocking the writers; what it received is a gap-free prefix of the
// history and its channel is closed.
func TestWatchOverflow(t *testing.T) {
	s := open(t, tempPath(t), Options{WatchBuffer: 4})
	ch, err := s.Watch(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	const writes = 200
	for i := range writes {
		put(t, s, fmt.Sprintf("k/%d", i), "v")
	}
	var n int64
	for ev := range ch {
		n++
		if ev.KV.ModRevision != n {
			t.Fatalf("event %d at revision %d", n, ev.KV.ModRevision)
		}
	}
	if n == writes {
		t.Fatalf("a watcher that fell %d revisions behind was not dropped", writes)
	}
	// A new watch from the last delivered revision picks up the rest.
	ch, err = s.Watch(t.Context(), "", n)
	if err != nil {
		t.Fatal(err)
	}
	for ev := range ch {
		n++
		if ev.KV.ModRevision != n {
			t.Fatalf("event %d at revision %d", n, ev.KV.ModRevision)
		}
		if n == writes {
			break
		}
	}
}

// TestBatch drives one group commit directly: each transaction sees the
// writes of the earlier ones, a conflict or a departed caller does not
// abort the others, and each change gets its own revision.
func TestBatch(t *testing.T) {
	s := open(t, tempPath(t), Options{})
	base := put(t, s, "existing", "x")
	ch, err := s.Watch(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	req := func(done <-chan struct{}, cmps []store.Compare, ops ...store.Op) *txnReq {
		r := &txnReq{compares: cmps, canceled: done, res: make(chan txnResult, 1)}
		for _, o := range ops {
			p := op{key: o.Key, delete: o.Delete}
			if !o.Delete {
				p.buf = append(make([]byte, headerSize), o.Value...)
			}
			r.ops = append(r.ops, p)
		}
		return r
	}
	putOp := func(k, v string) store.Op { return store.Op{Key: k, Value: []byte(v)} }
	batch := []*txnReq{
		req(nil, []store.Compare{{Key: "k", ModRevision: 0}}, putOp("k", "1")),                  // base+1
		req(nil, []store.Compare{{Key: "k", ModRevision: 0}}, putOp("k", "conflict")),           // conflict
		req(nil, []store.Compare{{Key: "k", ModRevision: base + 1}}, putOp("k", "2")),           // base+2
		req(nil, nil, store.Op{Key: "missing", Delete: true}),                                   // no change
		req(gone.Done(), nil, putOp("skipped", "v")),                                            // caller gone
		req(nil, []store.Compare{{Key: "existing", ModRevision: base}}, putOp("existing", "y")), // base+3
	}
	res := s.commit(batch, nil)
	want := []txnResult{{rev: base + 1}, {err: store.ErrConflict}, {rev: base + 2}, {rev: base + 2}, {err: errSkipped}, {rev: base + 3}}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("txn %d: %+v, want %+v", i, res[i], want[i])
		}
	}
	kv, err := s.Get(t.Context(), "k")
	if err != nil || string(kv.Value) != "2" || kv.Version != 2 || kv.ModRevision != base+2 {
		t.Fatalf("k = %+v, %v", kv, err)
	}
	if _, err := s.Get(t.Context(), "skipped"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("skipped: %v", err)
	}
	if r, _ := s.Rev(t.Context()); r != base+3 {
		t.Fatalf("rev = %d, want %d", r, base+3)
	}
	for _, want := range []string{"k=1", "k=2", "existing=y"} {
		ev := <-ch
		if got := ev.KV.Key + "=" + string(ev.KV.Value); got != want {
			t.Fatalf("event %s, want %s", got, want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(tempPath(t), Options{HistoryLimit: -1}); err == nil {
		t.Error("open with a negative history limit: no error")
	}
	path := tempPath(t)
	open(t, path, Options{})
	if s, err := Open(path, Options{LockTimeout: 1}); err == nil {
		s.Close()
		t.Error("second open of a locked file: no error")
	}
}

func TestTxnValidation(t *testing.T) {
	s := open(t, tempPath(t), Options{})
	big := string(make([]byte, 40_000))
	for name, txn := range map[string]store.Txn{
		"empty key":       {Ops: []store.Op{{Key: "", Value: []byte("v")}}},
		"long key":        {Ops: []store.Op{{Key: big, Value: []byte("v")}}},
		"empty compare":   {Compares: []store.Compare{{Key: ""}}, Ops: []store.Op{{Key: "k"}}},
		"negative rev":    {Compares: []store.Compare{{Key: "k", ModRevision: -1}}, Ops: []store.Op{{Key: "k"}}},
		"duplicate (map)": {Ops: dupOps(20)},
	} {
		if _, err := s.Txn(t.Context(), txn); err == nil || errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: %v, want a validation error", name, err)
		}
	}
}

func dupOps(n int) []store.Op {
	var ops []store.Op
	for i := range n {
		ops = append(ops, store.Op{Key: fmt.Sprint("k", i)})
	}
	return append(ops, store.Op{Key: "k3", Delete: true})
}

// TestVacuum checks that a value written over, and its history once
// compacted, are gone from the file's bytes after Vacuum, and that the
// store opens with its keys and revision.
func TestVacuum(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	s := open(t, path, Options{})
	put(t, s, "/a", "plaintext-secret-value")
	put(t, s, "/b", "kept")
	rev := put(t, s, "/a", "replaced")
	if err := s.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Vacuum(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("plaintext-secret-value")) {
		t.Fatal("the overwritten value is still in the file")
	}
	s = open(t, path, Options{})
	if got, err := s.Rev(ctx); err != nil || got != rev {
		t.Fatalf("Rev = %d, %v; want %d", got, err, rev)
	}
	for k, want := range map[string]string{"/a": "replaced", "/b": "kept"} {
		kv, err := s.Get(ctx, k)
		if err != nil || string(kv.Value) != want {
			t.Fatalf("Get(%s) = %v, %v", k, kv, err)
		}
	}
}
