package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Typed helpers: values stored as JSON, read and written as Go types.

// Item is one decoded key of a list.
type Item[T any] struct {
	Key            string
	Value          T
	CreateRevision int64
	ModRevision    int64
	Version        int64
}

// UpdateAttempts bounds how many times Update reads and writes a key before
// giving up on conflicts.
const UpdateAttempts = 10

// DecodeJSON decodes the JSON value of kv, for example the KV of a watch
// event.
func DecodeJSON[T any](kv *KV) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
	}
	return v, nil
}

// GetJSON reads key and decodes its JSON value. It returns the value and the
// key's ModRevision, for a later compare-and-swap, or ErrNotFound.
func GetJSON[T any](ctx context.Context, s Store, key string) (*T, int64, error) {
	kv, err := s.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	v, err := DecodeJSON[T](kv)
	if err != nil {
		return nil, 0, err
	}
	return v, kv.ModRevision, nil
}

// ListJSON lists the keys with prefix and decodes their JSON values. It also
// returns the revision of the list, from which to watch for changes.
func ListJSON[T any](ctx context.Context, s Store, prefix string, opts ListOptions) ([]Item[T], int64, error) {
	kvs, rev, err := s.List(ctx, prefix, opts)
	if err != nil {
		return nil, 0, err
	}
	items := make([]Item[T], len(kvs))
	for i := range kvs {
		kv := &kvs[i]
		if err := json.Unmarshal(kv.Value, &items[i].Value); err != nil {
			return nil, 0, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		items[i].Key, items[i].CreateRevision, items[i].ModRevision, items[i].Version = kv.Key, kv.CreateRevision, kv.ModRevision, kv.Version
	}
	return items, rev, nil
}

// PutJSON returns the op that writes v as JSON at key, to use in a Txn.
func PutJSON(key string, v any) (Op, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Op{}, fmt.Errorf("encode %s: %w", key, err)
	}
	return Op{Key: key, Value: b}, nil
}

// CreateJSON writes v as JSON at key when the key does not exist, and
// returns the new revision; ErrConflict when the key exists.
func CreateJSON(ctx context.Context, s Store, key string, v any) (int64, error) {
	op, err := PutJSON(key, v)
	if err != nil {
		return 0, err
	}
	return s.Txn(ctx, Txn{Compares: []Compare{{Key: key, ModRevision: 0}}, Ops: []Op{op}})
}

// Update changes the JSON value at key with optimistic concurrency: it reads
// the key, calls fn with its current value (nil when the key does not exist)
// and writes what fn returns, provided the key has not changed since the
// read; when fn returns nil, the key is deleted. On a conflict it starts
// over, up to UpdateAttempts times, so fn must have no side effects besides
// its result; it gets a freshly decoded value each time.
//
// Update returns the written value and the revision of the write. An error
// from fn is returned as is and nothing is written. When every attempt
// conflicts, the error wraps ErrConflict.
func Update[T any](ctx context.Context, s Store, key string, fn func(cur *T) (*T, error)) (*T, int64, error) {
	for range UpdateAttempts {
		cur, mod, err := GetJSON[T](ctx, s, key)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, 0, err
		}
		next, err := fn(cur)
		if err != nil {
			return nil, 0, err
		}
		op := Op{Key: key, Delete: true}
		if next != nil {
			if op, err = PutJSON(key, next); err != nil {
				return nil, 0, err
			}
		}
		rev, err := s.Txn(ctx, Txn{Compares: []Compare{{Key: key, ModRevision: mod}}, Ops: []Op{op}})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		return next, rev, nil
	}
	return nil, 0, fmt.Errorf("update %s: %d attempts: %w", key, UpdateAttempts, ErrConflict)
}
