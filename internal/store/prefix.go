package store

import (
	"context"
	"errors"
	"strings"
	"sync"
)

// ErrNoCompaction is returned by a WithPrefix view's Compact when the
// underlying store does not compact.
var ErrNoCompaction = errors.New("store: compaction not supported")

// WithPrefix returns a view of s in which every key is stored under prefix:
// key k of the view is key prefix+k of s, and the view's List and Watch see
// only the keys under prefix, with prefix cut off. Revisions are s's. Closing
// the view ends its watches and makes its calls return ErrClosed, but leaves
// s open. The view implements Compact when s does.
func WithPrefix(s Store, prefix string) Store {
	return &prefixed{s: s, prefix: prefix, done: make(chan struct{})}
}

// WithPrefixSharing returns a WithPrefix view of s but for the keys under
// the shared prefixes, which are s's own: key k under one of them is key k
// of s in every view, the key space the views share (the claims of what
// must be unique across them), written in the same transactions as the
// view's own keys. A List or Watch of a prefix under a shared one sees s's
// keys under it; of any other prefix, only the view's own keys.
func WithPrefixSharing(s Store, prefix string, shared ...string) Store {
	return &prefixed{s: s, prefix: prefix, shared: shared, done: make(chan struct{})}
}

type prefixed struct {
	s      Store
	prefix string
	shared []string // prefixes of the keys that are s's own

	once sync.Once
	done chan struct{} // closed by Close
}

func (p *prefixed) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// key returns the key of s that is key k of the view.
func (p *prefixed) key(k string) string {
	for _, sh := range p.shared {
		if strings.HasPrefix(k, sh) {
			return k
		}
	}
	return p.prefix + k
}

// strip returns kv, a key-value of s, as the view sees it.
func (p *prefixed) strip(kv KV) KV {
	if p.key(kv.Key) != kv.Key { // not shared
		kv.Key = strings.TrimPrefix(kv.Key, p.prefix)
	}
	return kv
}

func (p *prefixed) Get(ctx context.Context, key string) (*KV, error) {
	if p.closed() {
		return nil, ErrClosed
	}
	kv, err := p.s.Get(ctx, p.key(key))
	if err != nil {
		return nil, err
	}
	out := p.strip(*kv)
	return &out, nil
}

func (p *prefixed) List(ctx context.Context, prefix string, opts ListOptions) ([]KV, int64, error) {
	if p.closed() {
		return nil, 0, ErrClosed
	}
	if opts.StartAfter != "" {
		opts.StartAfter = p.key(opts.StartAfter)
	}
	kvs, rev, err := p.s.List(ctx, p.key(prefix), opts)
	if err != nil {
		return nil, 0, err
	}
	for i := range kvs {
		kvs[i] = p.strip(kvs[i])
	}
	return kvs, rev, nil
}

func (p *prefixed) Txn(ctx context.Context, txn Txn) (int64, error) {
	if p.closed() {
		return 0, ErrClosed
	}
	t := Txn{Compares: make([]Compare, len(txn.Compares)), Ops: make([]Op, len(txn.Ops))}
	for i, c := range txn.Compares {
		c.Key = p.key(c.Key)
		t.Compares[i] = c
	}
	for i, op := range txn.Ops {
		op.Key = p.key(op.Key)
		t.Ops[i] = op
	}
	return p.s.Txn(ctx, t)
}

func (p *prefixed) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan Event, error) {
	if p.closed() {
		return nil, ErrClosed
	}
	wctx, cancel := context.WithCancel(ctx)
	in, err := p.s.Watch(wctx, p.key(prefix), fromRev)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan Event, cap(in))
	go func() {
		defer close(out)
		defer cancel()
		for {
			select {
			case ev, ok := <-in:
				if !ok {
					return
				}
				ev.KV = p.strip(ev.KV)
				if ev.PrevKV != nil {
					prev := p.strip(*ev.PrevKV)
					ev.PrevKV = &prev
				}
				select {
				case out <- ev:
				case <-wctx.Done():
					return
				case <-p.done:
					return
				}
			case <-wctx.Done():
				return
			case <-p.done:
				return
			}
		}
	}()
	return out, nil
}

func (p *prefixed) Rev(ctx context.Context) (int64, error) {
	if p.closed() {
		return 0, ErrClosed
	}
	return p.s.Rev(ctx)
}

func (p *prefixed) Close() error {
	err := ErrClosed
	p.once.Do(func() {
		close(p.done)
		err = nil
	})
	return err
}

// Compact discards the history of the underlying store up to rev (see
// storetest.Compactor), or returns ErrNoCompaction when it cannot.
func (p *prefixed) Compact(ctx context.Context, rev int64) error {
	c, ok := p.s.(interface {
		Compact(ctx context.Context, rev int64) error
	})
	if !ok {
		return ErrNoCompaction
	}
	if p.closed() {
		return ErrClosed
	}
	return c.Compact(ctx, rev)
}
