// Package store defines Flotilla's state store: a key-value store with etcd's
// semantics (revisioned reads, compare-and-swap transactions, watch from a
// revision). Backends live in sub-packages (bolt, later etcd) and must pass the
// conformance suite in storetest.
package store

import (
	"context"
	"errors"
)

// Sentinel errors returned by every backend.
var (
	// ErrNotFound is returned by Get when the key does not exist.
	ErrNotFound = errors.New("store: key not found")
	// ErrConflict is returned by Txn when a comparison fails; nothing was written.
	ErrConflict = errors.New("store: revision conflict")
	// ErrCompacted is returned by Watch when the requested start revision is
	// older than the oldest revision the backend still keeps.
	ErrCompacted = errors.New("store: revision compacted")
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("store: closed")
)

// KV is one key with its value and revisions, as in etcd's mvccpb.KeyValue.
type KV struct {
	Key   string
	Value []byte
	// CreateRevision is the revision of the transaction that created the key.
	CreateRevision int64
	// ModRevision is the revision of the transaction that last wrote the key.
	ModRevision int64
	// Version counts writes to the key since it was created (1 after create).
	Version int64
}

// Compare is a condition on one key's ModRevision. ModRevision 0 means the key
// must not exist.
type Compare struct {
	Key         string
	ModRevision int64
}

// Op is one write inside a transaction: a put, or a delete when Delete is set.
type Op struct {
	Key    string
	Value  []byte
	Delete bool
}

// Txn is an all-or-nothing transaction: when every comparison holds, every op
// is applied under one new revision; otherwise nothing is written.
type Txn struct {
	Compares []Compare
	Ops      []Op
}

// ListOptions narrows a List.
type ListOptions struct {
	// StartAfter skips keys up to and including this one (for pagination).
	StartAfter string
	// Limit caps the number of returned keys; 0 means no limit.
	Limit int
}

// EventType says what happened to a key.
type EventType int

const (
	// EventPut is a create or an update.
	EventPut EventType = iota + 1
	// EventDelete is a delete; KV carries the key and the delete's revision.
	EventDelete
)

// Event is one change seen by a watch.
type Event struct {
	Type EventType
	// KV is the key after the change (for a delete: Key and ModRevision only).
	KV KV
	// PrevKV is the key before the change, when it existed.
	PrevKV *KV
}

// Store is the state store contract. All methods are safe for concurrent use.
type Store interface {
	// Get returns the current value of key, or ErrNotFound.
	Get(ctx context.Context, key string) (*KV, error)
	// List returns the keys with the given prefix in key order, and the store
	// revision at which the list was read.
	List(ctx context.Context, prefix string, opts ListOptions) (kvs []KV, rev int64, err error)
	// Txn applies the transaction atomically and durably: when it returns nil,
	// the write is on disk. It returns the new revision, or ErrConflict when a
	// comparison failed (nothing was written). A Txn with no Ops returns the
	// current revision after checking the comparisons; so does a Txn whose
	// ops change nothing (deletes of missing keys only), as in etcd.
	Txn(ctx context.Context, txn Txn) (rev int64, err error)
	// Watch streams the events on keys with the given prefix, starting with
	// the first event after revision fromRev (fromRev 0 means from now). The
	// channel is closed when ctx ends or the store closes, and may be closed
	// when the receiver falls too far behind: a receiver whose channel closes
	// while its ctx is live must list again and watch from the list's
	// revision. Watch returns ErrCompacted when fromRev is older than the
	// kept history.
	Watch(ctx context.Context, prefix string, fromRev int64) (<-chan Event, error)
	// Rev returns the current store revision.
	Rev(ctx context.Context) (int64, error)
	// Close releases the store; pending calls return ErrClosed.
	Close() error
}
