package store_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

type cluster struct {
	Name  string `json:"name"`
	Tasks int    `json:"tasks"`
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestGetJSON(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	if _, _, err := store.GetJSON[cluster](ctx, s, "c/a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v, want ErrNotFound", err)
	}
	rev, err := store.CreateJSON(ctx, s, "c/a", cluster{Name: "a", Tasks: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateJSON(ctx, s, "c/a", cluster{Name: "again"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create existing: %v, want ErrConflict", err)
	}
	c, mod, err := store.GetJSON[cluster](ctx, s, "c/a")
	if err != nil || *c != (cluster{Name: "a", Tasks: 3}) || mod != rev {
		t.Fatalf("get = %+v, %d, %v; want {a 3}, %d", c, mod, err, rev)
	}

	if _, err := s.Txn(ctx, store.Txn{Ops: []store.Op{{Key: "c/bad", Value: []byte("{not json")}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.GetJSON[cluster](ctx, s, "c/bad"); err == nil || !strings.Contains(err.Error(), "c/bad") {
		t.Fatalf("get bad JSON: %v, want a decode error naming the key", err)
	}
}

func TestListJSON(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	var last int64
	for _, name := range []string{"b", "a", "c"} {
		op, err := store.PutJSON("c/"+name, cluster{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if last, err = s.Txn(ctx, store.Txn{Ops: []store.Op{op}}); err != nil {
			t.Fatal(err)
		}
	}
	items, rev, err := store.ListJSON[cluster](ctx, s, "c/", store.ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rev != last || len(items) != 2 || items[0].Key != "c/a" || items[0].Value.Name != "a" ||
		items[1].Key != "c/b" || items[1].Value.Name != "b" || items[0].ModRevision != last-1 || items[0].Version != 1 {
		t.Fatalf("list = %+v at %d", items, rev)
	}
	if _, err := s.Txn(ctx, store.Txn{Ops: []store.Op{{Key: "c/d", Value: []byte("[]")}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.ListJSON[cluster](ctx, s, "c/", store.ListOptions{}); err == nil || !strings.Contains(err.Error(), "c/d") {
		t.Fatalf("list with a bad value: %v, want a decode error naming the key", err)
	}
}

func TestUpdate(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	inc := func(c *cluster) (*cluster, error) {
		if c == nil {
			c = &cluster{Name: "new"}
		}
		c.Tasks++
		return c, nil
	}
	c, rev, err := store.Update(ctx, s, "c/a", inc)
	if err != nil || c.Tasks != 1 || c.Name != "new" {
		t.Fatalf("update of a missing key = %+v, %v", c, err)
	}
	if _, mod, _ := store.GetJSON[cluster](ctx, s, "c/a"); mod != rev {
		t.Fatalf("update returned revision %d, key is at %d", rev, mod)
	}

	abort := errors.New("abort")
	if _, _, err := store.Update(ctx, s, "c/a", func(*cluster) (*cluster, error) { return nil, abort }); !errors.Is(err, abort) {
		t.Fatalf("update with a failing fn: %v, want abort", err)
	}
	if _, mod, _ := store.GetJSON[cluster](ctx, s, "c/a"); mod != rev {
		t.Fatalf("a failing fn wrote: revision %d, want %d", mod, rev)
	}

	if _, _, err := store.Update(ctx, s, "c/a", func(*cluster) (*cluster, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.GetJSON[cluster](ctx, s, "c/a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after an update to nil: %v, want ErrNotFound", err)
	}
}

// TestUpdateGivesUp: an fn that races with another writer every time makes
// Update give up after UpdateAttempts tries.
func TestUpdateGivesUp(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	calls := 0
	_, _, err := store.Update(ctx, s, "c/a", func(c *cluster) (*cluster, error) {
		calls++
		if _, err := s.Txn(ctx, store.Txn{Ops: []store.Op{{Key: "c/a", Value: []byte(`{"name":"other"}`)}}}); err != nil {
			return nil, err
		}
		return &cluster{Name: "mine"}, nil
	})
	if !errors.Is(err, store.ErrConflict) || calls != store.UpdateAttempts {
		t.Fatalf("update = %v after %d calls; want ErrConflict after %d", err, calls, store.UpdateAttempts)
	}
}

// TestUpdateConcurrent: concurrent Updates lose no increment. A caller that
// exhausts its attempts under this contention simply calls Update again.
func TestUpdateConcurrent(t *testing.T) {
	s := openStore(t)
	const workers, perWorker = 8, 20
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				for {
					_, _, err := store.Update(t.Context(), s, "c/counter", func(c *cluster) (*cluster, error) {
						if c == nil {
							c = &cluster{}
						}
						c.Tasks++
						return c, nil
					})
					if errors.Is(err, store.ErrConflict) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	c, _, err := store.GetJSON[cluster](t.Context(), s, "c/counter")
	if err != nil || c.Tasks != workers*perWorker {
		t.Fatalf("counter = %+v, %v; want %d", c, err, workers*perWorker)
	}
}

func TestDecodeJSON(t *testing.T) {
	c, err := store.DecodeJSON[cluster](&store.KV{Key: "k", Value: []byte(`{"name":"x","tasks":2}`)})
	if err != nil || *c != (cluster{Name: "x", Tasks: 2}) {
		t.Fatalf("decode = %+v, %v", c, err)
	}
	if _, err := store.DecodeJSON[cluster](&store.KV{Key: "k", Value: []byte(`nope`)}); err == nil {
		t.Fatal("decode of bad JSON: no error")
	}
}
