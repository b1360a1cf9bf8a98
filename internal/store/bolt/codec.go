package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/flotilla/flotilla/internal/store"
)

// File layout. Three buckets:
//
//	meta    "format" → 8-byte format version
//	        "rev"    → 8-byte current revision
//	        "compact"→ 8-byte compaction revision: events at or below it are gone
//	kv      key → header (CreateRevision, ModRevision, Version; 8 bytes each,
//	        big endian) followed by the value
//	events  8-byte big-endian revision → the record of that revision's events
//
// An event record is the sequence of the revision's events, each:
//
//	type byte, key length uvarint, key,
//	for a put: create revision uvarint, version uvarint, value length uvarint, value,
//	has-prev byte, and when 1: create revision, mod revision, version uvarint,
//	value length uvarint, value.
//
// A put event's ModRevision is the record's revision; a delete event carries
// only its key.
var (
	bucketMeta   = []byte("meta")
	bucketKV     = []byte("kv")
	bucketEvents = []byte("events")

	metaFormat  = []byte("format")
	metaRev     = []byte("rev")
	metaCompact = []byte("compact")
)

// formatVersion is the layout described above.
const formatVersion = 1

// headerSize is the size of the revision header before each stored value.
const headerSize = 24

var errCorrupt = errors.New("corrupt record")

// putHeader writes the revisions of a stored value into the first headerSize
// bytes of buf.
func putHeader(buf []byte, createRev, modRev, version int64) {
	binary.BigEndian.PutUint64(buf[0:8], uint64(createRev))
	binary.BigEndian.PutUint64(buf[8:16], uint64(modRev))
	binary.BigEndian.PutUint64(buf[16:24], uint64(version))
}

// header reads the revisions of a stored value.
func header(v []byte) (createRev, modRev, version int64, err error) {
	if len(v) < headerSize {
		return 0, 0, 0, fmt.Errorf("value of %d bytes: %w", len(v), errCorrupt)
	}
	return int64(binary.BigEndian.Uint64(v[0:8])),
		int64(binary.BigEndian.Uint64(v[8:16])),
		int64(binary.BigEndian.Uint64(v[16:24])), nil
}

// decodeKV fills kv from a stored value, copying the value out of bolt's
// memory.
func decodeKV(kv *store.KV, v []byte) error {
	c, m, ver, err := header(v)
	if err != nil {
		return fmt.Errorf("key %q: %w", kv.Key, err)
	}
	kv.CreateRevision, kv.ModRevision, kv.Version = c, m, ver
	kv.Value = make([]byte, len(v)-headerSize)
	copy(kv.Value, v[headerSize:])
	return nil
}

func revKey(rev int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(rev))
}

func decodeInt(v []byte) int64 {
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// appendPut appends one put event to rec. prev is the stored value before
// the put, nil if the key did not exist.
func appendPut(rec []byte, key string, createRev, version int64, value, prev []byte) []byte {
	rec = append(rec, byte(store.EventPut))
	rec = binary.AppendUvarint(rec, uint64(len(key)))
	rec = append(rec, key...)
	rec = binary.AppendUvarint(rec, uint64(createRev))
	rec = binary.AppendUvarint(rec, uint64(version))
	rec = binary.AppendUvarint(rec, uint64(len(value)))
	rec = append(rec, value...)
	return appendPrev(rec, prev)
}

// appendDelete appends one delete event to rec; prev is the stored value
// before the delete.
func appendDelete(rec []byte, key string, prev []byte) []byte {
	rec = append(rec, byte(store.EventDelete))
	rec = binary.AppendUvarint(rec, uint64(len(key)))
	rec = append(rec, key...)
	return appendPrev(rec, prev)
}

func appendPrev(rec []byte, prev []byte) []byte {
	if prev == nil {
		return append(rec, 0)
	}
	rec = append(rec, 1)
	// prev comes from the kv bucket, which always holds a full header.
	c, m, ver, _ := header(prev)
	rec = binary.AppendUvarint(rec, uint64(c))
	rec = binary.AppendUvarint(rec, uint64(m))
	rec = binary.AppendUvarint(rec, uint64(ver))
	rec = binary.AppendUvarint(rec, uint64(len(prev)-headerSize))
	return append(rec, prev[headerSize:]...)
}

// recordReader decodes an event record.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) uvarint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return int64(v)
}

func (r *recordReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// bytes returns the next length-prefixed field, aliasing the record.
func (r *recordReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// decodeRecord appends to evs the events of the record of revision rev whose
// keys have the given prefix. Keys and values are copied, so the events
// share no memory with rec.
func decodeRecord(evs []store.Event, rev int64, rec []byte, prefix string) ([]store.Event, error) {
	r := recordReader{b: rec}
	for len(r.b) > 0 && r.err == nil {
		typ := store.EventType(r.byte())
		key := r.bytes()
		match := len(key) >= len(prefix) && string(key[:len(prefix)]) == prefix
		var ev store.Event
		switch typ {
		case store.EventPut:
			c, ver, val := r.uvarint(), r.uvarint(), r.bytes()
			if match {
				ev.KV = store.KV{Key: string(key), Value: clone(val), CreateRevision: c, ModRevision: rev, Version: ver}
			}
		case store.EventDelete:
			if match {
				ev.KV = store.KV{Key: string(key), ModRevision: rev}
			}
		default:
			r.err = errCorrupt
		}
		if r.byte() == 1 {
			c, m, ver, val := r.uvarint(), r.uvarint(), r.uvarint(), r.bytes()
			if match {
				ev.PrevKV = &store.KV{Key: ev.KV.Key, Value: clone(val), CreateRevision: c, ModRevision: m, Version: ver}
			}
		}
		if match && r.err == nil {
			ev.Type = typ
			evs = append(evs, ev)
		}
	}
	if r.err != nil {
		return evs, fmt.Errorf("event record of revision %d: %w", rev, r.err)
	}
	return evs, nil
}

// clone copies b; it returns a non-nil empty slice for an empty b so that an
// empty value reads back the same way from Get and from Watch.
func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}
