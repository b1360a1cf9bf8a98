package bolt

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/flotilla/flotilla/internal/store"
)

// Watch streams the events on keys with the given prefix after revision
// fromRev (0: from now), in revision order and without gaps, replaying the
// kept history first when fromRev is in the past. It returns
// store.ErrCompacted when fromRev is older than the kept history.
//
// The channel is closed when ctx ends, when the store closes, or when the
// caller falls more than Options.WatchBuffer revisions behind the writers:
// the store never blocks writers on a slow watcher. A caller whose channel
// closed while its ctx is still live must re-list and watch again from the
// list's revision, as with a cancelled etcd watch.
//
// Every event is the caller's own copy.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan store.Event, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if fromRev < 0 {
		return nil, fmt.Errorf("watch %q: negative revision %d", prefix, fromRev)
	}
	w := &watcher{prefix: prefix, notify: make(chan struct{}, 1)}
	published, err := s.hub.add(w)
	if err != nil {
		return nil, err
	}
	after := fromRev
	if fromRev == 0 {
		after = published
	}
	var replay []record
	if after < published {
		replay, err = s.history(after, published)
		if err != nil {
			s.hub.remove(w)
			return nil, fmt.Errorf("watch %q from %d: %w", prefix, fromRev, err)
		}
	}
	out := make(chan store.Event, 64)
	go s.hub.serve(ctx, w, out, replay, after)
	return out, nil
}

// history returns the records of the revisions in (after, upTo], or
// store.ErrCompacted when some of them were discarded.
func (s *Store) history(after, upTo int64) ([]record, error) {
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, s.readErr(err)
	}
	defer tx.Rollback()
	if after < decodeInt(tx.Bucket(bucketMeta).Get(metaCompact)) {
		return nil, store.ErrCompacted
	}
	recs := make([]record, 0, upTo-after)
	c := tx.Bucket(bucketEvents).Cursor()
	for k, v := c.Seek(revKey(after + 1)); k != nil; k, v = c.Next() {
		rev := decodeInt(k)
		if rev > upTo {
			break
		}
		recs = append(recs, record{rev: rev, buf: clone(v)})
	}
	if int64(len(recs)) != upTo-after {
		// Revisions are consecutive and each has a record; a hole means
		// the history is not what it should be.
		return nil, fmt.Errorf("history (%d, %d] has %d records: %w", after, upTo, len(recs), errCorrupt)
	}
	return recs, nil
}

// hub fans committed records out to watchers. The writer appends to each
// watcher's queue under the hub's lock and never waits for a watcher; each
// watcher has a goroutine that decodes, filters and delivers its queue.
type hub struct {
	mu        sync.Mutex
	published int64 // the last revision handed to watchers
	watchers  map[*watcher]struct{}
	closed    bool
	done      chan struct{} // closed by close
	limit     int
	log       *slog.Logger
}

type watcher struct {
	prefix string
	notify chan struct{} // capacity 1: "the queue has grown"

	mu       sync.Mutex
	queue    []record
	overflow bool // the hub dropped this watcher
}

func (h *hub) init(rev int64, limit int, log *slog.Logger) {
	h.published = rev
	h.watchers = make(map[*watcher]struct{})
	h.done = make(chan struct{})
	h.limit = limit
	h.log = log
}

// add registers w and returns the revision after which its queue starts.
func (h *hub) add(w *watcher) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, store.ErrClosed
	}
	h.watchers[w] = struct{}{}
	return h.published, nil
}

func (h *hub) remove(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		clear(h.watchers)
		close(h.done)
	}
}

// publish hands the records of a commit to every watcher. A watcher whose
// queue would exceed the limit is dropped; its goroutine closes its channel
// after delivering what it already has.
func (h *hub) publish(recs []record) {
	if len(recs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.published = recs[len(recs)-1].rev
	for w := range h.watchers {
		w.mu.Lock()
		if len(w.queue)+len(recs) > h.limit {
			w.overflow = true
			delete(h.watchers, w)
			h.log.Warn("watcher fell behind; closing it", "prefix", w.prefix, "queued_revisions", len(w.queue))
		} else {
			w.queue = append(w.queue, recs...)
		}
		w.mu.Unlock()
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// serve delivers replay, then w's queue, skipping revisions up to after, to
// out until ctx ends, the store closes or the watcher is dropped.
func (h *hub) serve(ctx context.Context, w *watcher, out chan<- store.Event, replay []record, after int64) {
	defer close(out)
	defer h.remove(w)
	var evs []store.Event
	send := func(recs []record) bool {
		for _, rec := range recs {
			if rec.rev <= after {
				continue
			}
			var err error
			evs, err = decodeRecord(evs[:0], rec.rev, rec.buf, w.prefix)
			if err != nil {
				h.log.Error("watch stopped", "prefix", w.prefix, "error", err)
				return false
			}
			for _, ev := range evs {
				select {
				case out <- ev:
				case <-ctx.Done():
					return false
				case <-h.done:
					return false
				}
			}
			clear(evs)
		}
		return true
	}
	if !send(replay) {
		return
	}
	replay = nil
	var spare []record
	for {
		w.mu.Lock()
		recs, overflow := w.queue, w.overflow
		w.queue = spare[:0]
		w.mu.Unlock()
		if !send(recs) {
			return
		}
		if overflow {
			return
		}
		clear(recs)
		spare = recs
		if len(recs) > 0 {
			continue
		}
		select {
		case <-w.notify:
		case <-ctx.Done():
			return
		case <-h.done:
			return
		}
	}
}
