package bolt

import (
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/flotilla/flotilla/internal/store"
)

// txnReq is one transaction queued for the writer.
type txnReq struct {
	compares []store.Compare
	ops      []op
	// canceled is the caller's ctx.Done(): the writer skips the transaction
	// when the caller has already given up.
	canceled <-chan struct{}
	res      chan txnResult // buffered: the writer never blocks on it
}

// op is a store.Op prepared outside the writer: buf holds room for the
// revision header followed by a copy of the value, so that the writer never
// reads the caller's memory.
type op struct {
	key    string
	buf    []byte
	delete bool
}

type txnResult struct {
	rev int64
	err error
}

// errSkipped answers a transaction whose caller had gone; the caller returns
// its context's error instead.
var errSkipped = errors.New("skipped")

// Txn applies txn atomically and durably; see store.Store. A transaction whose
// ops change nothing (deletes of missing keys only) does not create a
// revision, as in etcd. When ctx ends before the answer, Txn returns ctx's
// error and the transaction may or may not have been applied.
func (s *Store) Txn(ctx context.Context, txn store.Txn) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := validate(txn); err != nil {
		return 0, fmt.Errorf("txn: %w", err)
	}
	if len(txn.Ops) == 0 {
		return s.check(ctx, txn.Compares)
	}
	r := &txnReq{
		compares: append([]store.Compare(nil), txn.Compares...),
		ops:      make([]op, len(txn.Ops)),
		canceled: ctx.Done(),
		res:      make(chan txnResult, 1),
	}
	for i, o := range txn.Ops {
		r.ops[i] = op{key: o.Key, delete: o.Delete}
		if !o.Delete {
			r.ops[i].buf = append(make([]byte, headerSize, headerSize+len(o.Value)), o.Value...)
		}
	}
	select {
	case s.reqs <- r:
	case <-s.stop:
		return 0, store.ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	var res txnResult
	select {
	case res = <-r.res:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.writerDone:
		select {
		case res = <-r.res:
		default:
			return 0, store.ErrClosed
		}
	}
	if res.err == errSkipped {
		return 0, ctx.Err()
	}
	return res.rev, res.err
}

// validate rejects transactions bbolt cannot store, and two ops on one key
// (as etcd does).
func validate(txn store.Txn) error {
	for _, c := range txn.Compares {
		if c.Key == "" {
			return errors.New("compare on an empty key")
		}
		if c.ModRevision < 0 {
			return fmt.Errorf("compare on %q: negative revision %d", c.Key, c.ModRevision)
		}
	}
	var seen map[string]bool
	if len(txn.Ops) > 8 {
		seen = make(map[string]bool, len(txn.Ops))
	}
	for i, o := range txn.Ops {
		switch {
		case o.Key == "":
			return errors.New("op on an empty key")
		case len(o.Key) > bbolt.MaxKeySize:
			return fmt.Errorf("key of %d bytes is longer than %d", len(o.Key), bbolt.MaxKeySize)
		case len(o.Value) > bbolt.MaxValueSize-headerSize:
			return fmt.Errorf("value of %q: %d bytes is too large", o.Key, len(o.Value))
		}
		dup := false
		if seen != nil {
			dup = seen[o.Key]
			seen[o.Key] = true
		} else {
			for _, p := range txn.Ops[:i] {
				dup = dup || p.Key == o.Key
			}
		}
		if dup {
			return fmt.Errorf("two ops on key %q", o.Key)
		}
	}
	return nil
}

// check answers a transaction without ops: it evaluates the comparisons
// against the last committed state.
func (s *Store) check(ctx context.Context, cmps []store.Compare) (int64, error) {
	tx, err := s.view(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	ok, err := holds(tx.Bucket(bucketKV), cmps)
	if err != nil {
		return 0, fmt.Errorf("txn: %w", err)
	}
	if !ok {
		return 0, store.ErrConflict
	}
	return decodeInt(tx.Bucket(bucketMeta).Get(metaRev)), nil
}

// holds evaluates comparisons against the kv bucket.
func holds(kvb *bbolt.Bucket, cmps []store.Compare) (bool, error) {
	for _, c := range cmps {
		var mod int64
		if v := kvb.Get(unsafeBytes(c.Key)); v != nil {
			var err error
			if _, mod, _, err = header(v); err != nil {
				return false, fmt.Errorf("key %q: %w", c.Key, err)
			}
		}
		if mod != c.ModRevision {
			return false, nil
		}
	}
	return true, nil
}

// writer is the single goroutine that commits transactions. It takes every
// queued request (up to MaxBatch), applies them in order in one bbolt
// transaction, commits it once, publishes the events and answers.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*txnReq, 0, s.opts.MaxBatch)
	res := make([]txnResult, 0, s.opts.MaxBatch)
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.stop:
			s.refuseQueued()
			return
		}
	fill:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		res = s.commit(batch, res[:0])
		for i, r := range batch {
			r.res <- res[i]
		}
		clear(batch)
		batch = batch[:0]
	}
}

// refuseQueued answers store.ErrClosed to every queued request.
func (s *Store) refuseQueued() {
	for {
		select {
		case r := <-s.reqs:
			r.res <- txnResult{err: store.ErrClosed}
		default:
			return
		}
	}
}

// record is the events of one revision, as stored in the events bucket.
type record struct {
	rev int64
	buf []byte
}

// commit applies batch in one bbolt transaction and returns one result per
// request, appended to res. Each transaction sees the writes of those before
// it; one whose comparisons fail gets store.ErrConflict and changes nothing.
// When bbolt fails, every request gets the error and nothing is written.
func (s *Store) commit(batch []*txnReq, res []txnResult) []txnResult {
	fail := func(err error) []txnResult {
		res = res[:0]
		for range batch {
			res = append(res, txnResult{err: err})
		}
		return res
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		return fail(fmt.Errorf("txn: begin: %w", err))
	}
	meta, kvb, evb := tx.Bucket(bucketMeta), tx.Bucket(bucketKV), tx.Bucket(bucketEvents)
	evb.FillPercent = 1 // revisions only ever grow
	start := decodeInt(meta.Get(metaRev))
	rev := start
	var recs []record
	for _, r := range batch {
		select {
		case <-r.canceled:
			res = append(res, txnResult{err: errSkipped})
			continue
		default:
		}
		ok, err := holds(kvb, r.compares)
		if err != nil {
			tx.Rollback()
			return fail(fmt.Errorf("txn: %w", err))
		}
		if !ok {
			res = append(res, txnResult{err: store.ErrConflict})
			continue
		}
		rec, err := apply(kvb, rev+1, r.ops)
		if err != nil {
			tx.Rollback()
			return fail(fmt.Errorf("txn: %w", err))
		}
		if rec != nil {
			rev++
			if err := evb.Put(revKey(rev), rec); err != nil {
				tx.Rollback()
				return fail(fmt.Errorf("txn: write events: %w", err))
			}
			recs = append(recs, record{rev: rev, buf: rec})
		}
		res = append(res, txnResult{rev: rev})
	}
	if rev == start {
		tx.Rollback()
		return res
	}
	if err := meta.Put(metaRev, revKey(rev)); err != nil {
		tx.Rollback()
		return fail(fmt.Errorf("txn: write revision: %w", err))
	}
	if err := compact(tx, rev-s.opts.HistoryLimit); err != nil {
		tx.Rollback()
		return fail(fmt.Errorf("txn: %w", err))
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("txn: commit: %w", err))
	}
	s.rev.Store(rev)
	s.hub.publish(recs)
	return res
}

// apply writes ops under revision rev and returns the event record, or nil
// when nothing changed.
func apply(kvb *bbolt.Bucket, rev int64, ops []op) ([]byte, error) {
	var rec []byte
	for _, o := range ops {
		k := []byte(o.key)
		prev := kvb.Get(k)
		if o.delete {
			if prev == nil {
				continue
			}
			rec = appendDelete(rec, o.key, prev)
			if err := kvb.Delete(k); err != nil {
				return nil, fmt.Errorf("delete %q: %w", o.key, err)
			}
			continue
		}
		create, version := rev, int64(1)
		if prev != nil {
			c, _, v, err := header(prev)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", o.key, err)
			}
			create, version = c, v+1
		}
		putHeader(o.buf, create, rev, version)
		rec = appendPut(rec, o.key, create, version, o.buf[headerSize:], prev)
		if err := kvb.Put(k, o.buf); err != nil {
			return nil, fmt.Errorf("put %q: %w", o.key, err)
		}
	}
	return rec, nil
}
