// Package bolt is the default backend of the state store: one bbolt file on
// local disk with etcd's semantics (see package store).
//
// Writes go through a single writer goroutine that commits every queued
// transaction in one bbolt transaction and one fsync (group commit), so
// durability costs one fsync per batch instead of one per request. Each
// successful transaction still gets its own revision. The events of the last
// Options.HistoryLimit revisions are kept in the file so that a watch can
// start from a past revision, also across restarts.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	bbolt "go.etcd.io/bbolt"

	"github.com/flotilla/flotilla/internal/store"
)

// Options tune a Store. The zero value is valid and gives the defaults.
type Options struct {
	// HistoryLimit is how many revisions of events are kept for Watch from a
	// past revision; older ones are discarded and watching from them returns
	// store.ErrCompacted. Default 10,000.
	HistoryLimit int64
	// MaxBatch caps the number of transactions committed together. Default 1,000.
	MaxBatch int
	// WatchBuffer is how many revisions a watcher may fall behind before the
	// store gives up on it and closes its channel. Default 10,000.
	WatchBuffer int
	// LockTimeout is how long Open waits for another process to release the
	// file. Default 5s.
	LockTimeout time.Duration
	// InitialMmapSize is the address space mapped up front, so that readers
	// do not block writers while the file is small enough. Default 1 GiB.
	InitialMmapSize int
	// Logger receives the store's logs. Default: discard.
	Logger *slog.Logger
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	switch {
	case o.HistoryLimit < 0:
		return fmt.Errorf("history limit %d is negative", o.HistoryLimit)
	case o.MaxBatch < 0:
		return fmt.Errorf("max batch %d is negative", o.MaxBatch)
	case o.WatchBuffer < 0:
		return fmt.Errorf("watch buffer %d is negative", o.WatchBuffer)
	case o.LockTimeout < 0:
		return fmt.Errorf("lock timeout %s is negative", o.LockTimeout)
	case o.InitialMmapSize < 0:
		return fmt.Errorf("initial mmap size %d is negative", o.InitialMmapSize)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.HistoryLimit == 0 {
		o.HistoryLimit = 10_000
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 1_000
	}
	if o.WatchBuffer == 0 {
		o.WatchBuffer = 10_000
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = 5 * time.Second
	}
	if o.InitialMmapSize == 0 {
		o.InitialMmapSize = 1 << 30
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Store is a store.Store backed by a bbolt file.
type Store struct {
	db   *bbolt.DB
	opts Options
	log  *slog.Logger

	// rev is the last committed revision.
	rev atomic.Int64

	closed     atomic.Bool
	closeOnce  sync.Once
	closeErr   error
	reqs       chan *txnReq
	stop       chan struct{} // closed by Close: stop accepting writes
	writerDone chan struct{} // closed when the writer goroutine has returned

	hub hub
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store file at path.
func Open(path string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	opts = opts.withDefaults()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         opts.LockTimeout,
		InitialMmapSize: opts.InitialMmapSize,
		// As etcd does: the freelist is rebuilt on open instead of being
		// written on every commit, and kept in a hashmap.
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
		NoStatistics:   true,
	})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	var rev int64
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketKV, bucketEvents} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch f := meta.Get(metaFormat); {
		case f == nil:
			if err := meta.Put(metaFormat, revKey(formatVersion)); err != nil {
				return fmt.Errorf("write format: %w", err)
			}
		case decodeInt(f) != formatVersion:
			return fmt.Errorf("file format %d, want %d", decodeInt(f), formatVersion)
		}
		rev = decodeInt(meta.Get(metaRev))
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{
		db:         db,
		opts:       opts,
		log:        opts.Logger.With("component", "store", "path", path),
		reqs:       make(chan *txnReq, opts.MaxBatch),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	s.rev.Store(rev)
	s.hub.init(rev, opts.WatchBuffer, s.log)
	go s.writer()
	s.log.Debug("store opened", "rev", rev)
	return s, nil
}

// Close stops the writer after its current batch, closes every watch channel
// and closes the file. Transactions still queued, and every call after Close,
// return store.ErrClosed; so does a second Close.
func (s *Store) Close() error {
	err := store.ErrClosed
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		<-s.writerDone
		s.hub.close()
		if cerr := s.db.Close(); cerr != nil {
			s.closeErr = fmt.Errorf("close store: %w", cerr)
		}
		err = s.closeErr
	})
	return err
}

// readErr maps an error beginning a read transaction.
func (s *Store) readErr(err error) error {
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) || s.closed.Load() {
		return store.ErrClosed
	}
	return fmt.Errorf("begin read: %w", err)
}

// view begins a read transaction; the caller must roll it back.
func (s *Store) view(ctx context.Context) (*bbolt.Tx, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, s.readErr(err)
	}
	return tx, nil
}

// Get returns the current value of key, or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (*store.KV, error) {
	tx, err := s.view(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	v := tx.Bucket(bucketKV).Get(unsafeBytes(key))
	if v == nil {
		return nil, store.ErrNotFound
	}
	kv := &store.KV{Key: key}
	if err := decodeKV(kv, v); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	return kv, nil
}

// List returns the keys with the given prefix in key order, and the revision
// at which they were read.
func (s *Store) List(ctx context.Context, prefix string, opts store.ListOptions) ([]store.KV, int64, error) {
	if opts.Limit < 0 {
		return nil, 0, fmt.Errorf("list %q: negative limit %d", prefix, opts.Limit)
	}
	tx, err := s.view(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	rev := decodeInt(tx.Bucket(bucketMeta).Get(metaRev))
	p := unsafeBytes(prefix)
	c := tx.Bucket(bucketKV).Cursor()
	var k, v []byte
	if opts.StartAfter >= prefix {
		after := unsafeBytes(opts.StartAfter)
		k, v = c.Seek(after)
		if bytes.Equal(k, after) {
			k, v = c.Next()
		}
	} else {
		k, v = c.Seek(p)
	}
	var kvs []store.KV
	for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if opts.Limit > 0 && len(kvs) == opts.Limit {
			break
		}
		kvs = append(kvs, store.KV{Key: string(k)})
		if err := decodeKV(&kvs[len(kvs)-1], v); err != nil {
			return nil, 0, fmt.Errorf("list %q: %w", prefix, err)
		}
	}
	return kvs, rev, nil
}

// Rev returns the last committed revision.
func (s *Store) Rev(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return s.rev.Load(), nil
}

// Compact discards the event history up to and including revision rev:
// afterwards Watch from a revision below rev returns store.ErrCompacted, and
// Watch from rev still works. rev must not be above the current revision.
// The store also compacts by itself to keep Options.HistoryLimit revisions.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if cur := decodeInt(tx.Bucket(bucketMeta).Get(metaRev)); rev > cur {
			return fmt.Errorf("revision %d is above the current revision %d", rev, cur)
		}
		return compact(tx, rev)
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
			return store.ErrClosed
		}
		return fmt.Errorf("compact to %d: %w", rev, err)
	}
	return nil
}

// compact raises the compaction revision to rev, when it is higher, and
// deletes the events at or below it.
func compact(tx *bbolt.Tx, rev int64) error {
	meta := tx.Bucket(bucketMeta)
	if rev <= decodeInt(meta.Get(metaCompact)) {
		return nil
	}
	if err := meta.Put(metaCompact, revKey(rev)); err != nil {
		return fmt.Errorf("write compaction revision: %w", err)
	}
	c := tx.Bucket(bucketEvents).Cursor()
	for k, _ := c.First(); k != nil && decodeInt(k) <= rev; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("delete events of revision %d: %w", decodeInt(k), err)
		}
	}
	return nil
}

// unsafeBytes returns the bytes of s without copying, for bbolt calls that
// only read their key argument during the call.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
