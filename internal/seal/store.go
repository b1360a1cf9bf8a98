package seal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/store"
)

// Store is a store.Store that seals the values of keys under its prefixes,
// in the first region's keys or in another region's (under
// flotilla.RegionKeyPrefix: /region/eu-west-1//ecs/instancekeys/... is
// sealed for the prefix /ecs/instancekeys/), before they reach the store it wraps, each for its own key (the key is
// the associated data), and opens them on every read: Get, List and the
// events of Watch. Values under other keys pass as they are. A value under
// a prefix that is not sealed (written before the prefix was sealed) is
// read as it is; Migrate seals every such value.
type Store struct {
	st       store.Store
	k        *Keyring
	prefixes []string
}

var _ store.Store = (*Store)(nil)

// NewStore returns st with the values under prefixes sealed by k.
func NewStore(st store.Store, k *Keyring, prefixes ...string) *Store {
	return &Store{st: st, k: k, prefixes: prefixes}
}

// sealed reports whether key's value is to be sealed: whether the key,
// in its region's view of the store, is under a prefix.
func (s *Store) sealed(key string) bool {
	key = flotilla.RegionLocalKey(key)
	for _, p := range s.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// open returns kv with its value opened, when it is sealed.
func (s *Store) open(kv *store.KV) error {
	if kv == nil || !s.sealed(kv.Key) || !IsSealed(kv.Value) {
		return nil
	}
	v, err := s.k.Open(kv.Value, kv.Key)
	if err != nil {
		return fmt.Errorf("open %s (master key %s): %w", kv.Key, s.k.ID(), err)
	}
	kv.Value = v
	return nil
}

// Get returns the value of key, opened.
func (s *Store) Get(ctx context.Context, key string) (*store.KV, error) {
	kv, err := s.st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := s.open(kv); err != nil {
		return nil, err
	}
	return kv, nil
}

// List returns the keys under prefix with their values opened.
func (s *Store) List(ctx context.Context, prefix string, opts store.ListOptions) ([]store.KV, int64, error) {
	kvs, rev, err := s.st.List(ctx, prefix, opts)
	if err != nil {
		return nil, 0, err
	}
	for i := range kvs {
		if err := s.open(&kvs[i]); err != nil {
			return nil, 0, err
		}
	}
	return kvs, rev, nil
}

// Txn applies txn with the values of its puts under the prefixes sealed.
func (s *Store) Txn(ctx context.Context, txn store.Txn) (int64, error) {
	var ops []store.Op
	for i, op := range txn.Ops {
		if op.Delete || !s.sealed(op.Key) {
			continue
		}
		if ops == nil {
			ops = append([]store.Op(nil), txn.Ops...)
		}
		v, err := s.k.Seal(op.Value, op.Key)
		if err != nil {
			return 0, err
		}
		ops[i].Value = v
	}
	if ops != nil {
		txn.Ops = ops
	}
	return s.st.Txn(ctx, txn)
}

// Watch streams the events under prefix with their values opened. An event
// whose value does not open ends the stream (the channel closes), as a
// watch that fell behind does: the receiver lists again, and sees the
// error.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan store.Event, error) {
	in, err := s.st.Watch(ctx, prefix, fromRev)
	if err != nil {
		return nil, err
	}
	out := make(chan store.Event)
	go func() {
		defer close(out)
		for ev := range in {
			if err := s.open(&ev.KV); err != nil {
				return
			}
			if ev.PrevKV != nil {
				prev := *ev.PrevKV
				if err := s.open(&prev); err != nil {
					return
				}
				ev.PrevKV = &prev
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Rev returns the wrapped store's revision.
func (s *Store) Rev(ctx context.Context) (int64, error) { return s.st.Rev(ctx) }

// Compact discards the wrapped store's history up to and including rev,
// when it keeps one that can be (as bolt.Store.Compact).
func (s *Store) Compact(ctx context.Context, rev int64) error {
	c, ok := s.st.(interface {
		Compact(ctx context.Context, rev int64) error
	})
	if !ok {
		return fmt.Errorf("compact: %T keeps no history to compact", s.st)
	}
	return c.Compact(ctx, rev)
}

// Close closes the wrapped store.
func (s *Store) Close() error { return s.st.Close() }

// Migrate seals every value under the prefixes that is not sealed yet, in
// the first region's keys and in every other region's, in
// compare-and-swap transactions, and returns how many it sealed. The
// plaintext stays in the wrapped store's history, if it keeps one, until
// that is compacted.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	regions, err := s.regionPrefixes(ctx)
	if err != nil {
		return 0, fmt.Errorf("seal: %w", err)
	}
	n := 0
	for _, under := range append([]string{""}, regions...) {
		for _, p := range s.prefixes {
			m, err := s.migrate(ctx, under+p)
			n += m
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// migrate seals the values under prefix that are not sealed yet.
func (s *Store) migrate(ctx context.Context, prefix string) (int, error) {
	n := 0
	kvs, _, err := s.st.List(ctx, prefix, store.ListOptions{})
	if err != nil {
		return n, fmt.Errorf("seal %s: %w", prefix, err)
	}
	for _, kv := range kvs {
		if IsSealed(kv.Value) || !s.sealed(kv.Key) {
			continue
		}
		_, err := s.Txn(ctx, store.Txn{
			Compares: []store.Compare{{Key: kv.Key, ModRevision: kv.ModRevision}},
			Ops:      []store.Op{{Key: kv.Key, Value: kv.Value}},
		})
		if errors.Is(err, store.ErrConflict) {
			// Written or deleted since the list: what this store
			// wrote is sealed, and a raw write is sealed next time.
			continue
		}
		if err != nil {
			return n, fmt.Errorf("seal %s: %w", kv.Key, err)
		}
		n++
	}
	return n, nil
}

// regionPrefixes returns the region key prefixes the wrapped store holds
// keys under (flotilla.RegionKeyPrefix), reading one key per region: each
// list starts after the last region's keys.
func (s *Store) regionPrefixes(ctx context.Context) ([]string, error) {
	var prefixes []string
	after := ""
	for {
		kvs, _, err := s.st.List(ctx, flotilla.RegionKeysPrefix, store.ListOptions{StartAfter: after, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("list regions' keys: %w", err)
		}
		if len(kvs) == 0 {
			return prefixes, nil
		}
		name, _, ok := strings.Cut(strings.TrimPrefix(kvs[0].Key, flotilla.RegionKeysPrefix), "/")
		if !ok {
			// A key /region/x with no region's keys under it.
			after = kvs[0].Key
			continue
		}
		p := flotilla.RegionKeyPrefix(name)
		prefixes = append(prefixes, p)
		// Every key under p sorts before p with its final "/" raised to
		// "0", and the keys after p's follow it.
		after = p[:len(p)-1] + "0"
	}
}
