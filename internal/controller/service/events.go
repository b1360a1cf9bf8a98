package service

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/flotilla/flotilla"
)

// event records an event message of this reconcile.
func (r *run) event(format string, args ...any) {
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

// newestEvent returns the message of the service's newest event, counting
// those of this reconcile.
func (r *run) newestEvent() string {
	if n := len(r.events); n > 0 {
		return r.events[n-1]
	}
	if len(r.svc.Events) > 0 {
		return r.svc.Events[0].Message
	}
	return ""
}

// addEvents puts this reconcile's events in front of the service's, newest
// first, and keeps at most flotilla.MaxServiceEvents.
func (r *run) addEvents() {
	if len(r.events) == 0 {
		return
	}
	evs := make([]flotilla.ServiceEvent, 0, len(r.events)+len(r.svc.Events))
	for i := len(r.events) - 1; i >= 0; i-- {
		msg := r.events[i]
		evs = append(evs, flotilla.ServiceEvent{ID: eventID(&r.svc, r.now, i, msg), CreatedAt: r.now, Message: msg})
	}
	evs = append(evs, r.svc.Events...)
	if len(evs) > flotilla.MaxServiceEvents {
		evs = evs[:flotilla.MaxServiceEvents]
	}
	r.svc.Events = evs
}

// eventID derives an event's ID, shaped as a UUID (version 4 bits set),
// from the service, the time and the event, so that Reconcile stays a pure
// function.
func eventID(svc *flotilla.Service, now time.Time, i int, msg string) string {
	h := fnv.New128a()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00%s", svc.ARN, svc.Name, now.UnixNano(), i, msg)
	b := h.Sum(nil)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// newDeploymentID derives the ID of a rollback deployment, 20 hex digits
// as the API's are, from the service, the deployment that failed and the
// time.
func newDeploymentID(svc *flotilla.Service, failed string, now time.Time) string {
	h := fnv.New128a()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	binary.BigEndian.PutUint64(b[8:], uint64(svc.Version))
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", svc.ARN, svc.Name, failed)
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil))[:20]
}
