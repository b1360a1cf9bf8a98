package lb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The requests most traffic is made of (a GET with no body, to a plain HTTP
// target) take a shorter way than httputil.ReverseProxy and http.Transport:
// the handler's goroutine writes the request on a pooled connection and
// copies the response back itself. http.Transport spends two goroutines per
// connection and several channel handoffs per request, and ReverseProxy
// clones the request and its headers; skipping them saves about 40 % of the
// load balancer's CPU time per request (docs/performance.md). Everything else
// (bodies, upgrades, HTTPS targets, other methods) goes through
// ReverseProxy, and the headers sent and the errors answered are the same
// either way.

// isPlain reports whether r takes the short way to t: an HTTP/1 request
// with no body and an idempotent method (so that it may be sent again when
// a kept-alive connection turns out closed), not asking for a protocol
// upgrade, to an HTTP target, with a query ReverseProxy would pass as it is.
func (t *target) isPlain(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	if t.scheme != "http" || r.ProtoMajor != 1 || r.Body != http.NoBody {
		return false
	}
	if _, ok := r.Header["Upgrade"]; ok {
		return false
	}
	return cleanQuery(r.URL.RawQuery)
}

// cleanQuery reports whether ReverseProxy would send the query unchanged:
// no semicolon, no broken escape, not too many parameters.
func cleanQuery(q string) bool {
	if strings.Count(q, "&") >= 10000 {
		return false
	}
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case ';':
			return false
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// max1xx is how many informational responses a request may get before its
// final one, as http.Transport allows.
const max1xx = 5

// errUnexpectedSwitch fails a response switching protocols that the
// request did not ask for.
var errUnexpectedSwitch = errors.New("target switched protocols unasked")

// servePlain proxies a request isPlain accepted. It answers as
// ReverseProxy would: proxyError before the response starts, and a
// connection broken off (http.ErrAbortHandler) when the copy of the body
// fails.
func (t *target) servePlain(w *recorder, r *http.Request) {
	resp, uc, err := t.roundTrip(w, r)
	if err != nil {
		t.proxyError(w, r, err)
		return
	}
	h := w.Header()
	var body io.Reader
	var closeAfter, flush bool
	announced := 0
	if resp == nil {
		// A simple head: its fields go straight to a client the socket
		// serves, unless the header has fields of the load balancer's
		// (a stickiness cookie) or net/http would add a sniffed
		// Content-Type to them.
		rw, direct := w.ResponseWriter.(*respWriter)
		if direct && len(h) == 0 && uc.head.contentType {
			w.code = uc.head.code
			rw.sendFields(uc.head.code, uc.fields, uc.head.length, uc.head.date)
		} else {
			addFields(h, uc.fields)
			w.WriteHeader(uc.head.code)
		}
		clear(uc.fields) // let go of the strings
		uc.body = io.LimitedReader{R: uc.br, N: uc.head.length}
		body, closeAfter, flush = &uc.body, uc.head.close, uc.head.eventStream || isEventStream(h)
	} else {
		removeHopByHop(resp.Header)
		copyHeader(h, resp.Header)
		if announced = len(resp.Trailer); announced > 0 {
			keys := make([]string, 0, announced)
			for k := range resp.Trailer {
				keys = append(keys, k)
			}
			h.Add("Trailer", strings.Join(keys, ", "))
		}
		w.WriteHeader(resp.StatusCode)
		body, closeAfter = resp.Body, resp.Close
		flush = resp.ContentLength == -1 || isEventStream(resp.Header)
	}

	err = t.copyBody(w, body, flush)
	if err == nil && resp == nil && uc.body.N > 0 {
		err = io.ErrUnexpectedEOF // the target closed before the end of the body
	}
	if err != nil {
		uc.release()
		uc.close()
		t.proxy.ErrorLog.Printf("copy response body: %v", err)
		panic(http.ErrAbortHandler)
	}
	if resp != nil {
		_ = resp.Body.Close() // which reads the trailers
	}
	if closeAfter || uc.br.Buffered() > 0 || !uc.release() {
		uc.close()
	} else {
		uc.pool.put(uc)
	}
	if resp == nil || len(resp.Trailer) == 0 {
		return
	}
	_ = http.NewResponseController(w).Flush()
	if len(resp.Trailer) == announced {
		copyHeader(h, resp.Trailer)
		return
	}
	for k, vv := range resp.Trailer {
		for _, v := range vv {
			h.Add(http.TrailerPrefix+k, v)
		}
	}
}

// roundTrip sends r and reads the head of its final response, passing the
// informational ones to the client: a simple head (resp nil) into uc.head
// and uc.fields, any other as resp. A request that fails on a
// kept-alive connection before any response is sent again once on a new
// one, as http.Transport does for idempotent requests: the target may have
// closed the connection while it was idle.
func (t *target) roundTrip(w http.ResponseWriter, r *http.Request) (resp *http.Response, uc *upConn, err error) {
	var lp *evloop
	if rec, ok := w.(*recorder); ok {
		if rw, ok := rec.ResponseWriter.(*respWriter); ok {
			lp = rw.cc.lp
		}
	}
	for attempt := 0; ; attempt++ {
		var reused bool
		uc, reused, err = t.conn(r.Context(), attempt == 0, lp)
		if err != nil {
			return nil, nil, err
		}
		uc.watch(w, r)
		resp, err = uc.exchange(r, t.hostport)
		inHead := err != nil
		if err == nil && resp != nil {
			resp, err = uc.informational(w, r, resp)
		}
		if err == nil {
			return resp, uc, nil
		}
		uc.release()
		uc.close()
		if !reused || r.Context().Err() != nil {
			if inHead && !t.cut.Load() {
				// (A request cut at the end of its target's
				// deregistration delay is not sent again.)
				err = &noResponseError{err}
			}
			return nil, nil, err
		}
	}
}

// noResponseError fails a request of the short way (idempotent, with no
// body) whose target broke the connection before its response's head
// came, nothing having gone to the client: another target may be sent it
// (proxyError), as nginx's proxy_next_upstream does by default and as
// RFC 9110 allows of idempotent requests. A target that docker kill
// stopped does this while Docker's proxy still accepts on its port.
type noResponseError struct{ err error }

func (e *noResponseError) Error() string { return e.err.Error() }
func (e *noResponseError) Unwrap() error { return e.err }

// informational passes the informational responses preceding the final
// one on to the client, and returns the final one.
func (uc *upConn) informational(w http.ResponseWriter, r *http.Request, resp *http.Response) (*http.Response, error) {
	for n := 0; ; n++ {
		code := resp.StatusCode
		switch {
		case code == http.StatusSwitchingProtocols:
			return nil, errUnexpectedSwitch
		case code >= 200 || code < 100:
			return resp, nil
		case n == max1xx:
			return nil, fmt.Errorf("more than %d informational responses", max1xx)
		}
		h := w.Header()
		var added []string
		for k, vv := range resp.Header {
			if _, ok := h[k]; !ok {
				added = append(added, k)
			}
			h[k] = append(h[k], vv...)
		}
		w.WriteHeader(code)
		for _, k := range added {
			delete(h, k)
		}
		var err error
		if resp, err = http.ReadResponse(uc.br, r); err != nil {
			return nil, err
		}
	}
}

// copyBody copies a response body to w, flushing after every write when
// flush is set (a body with no length, an event stream), as ReverseProxy
// does.
func (t *target) copyBody(w *recorder, body io.Reader, flush bool) error {
	bp := t.tg.deps.buffers.get()
	defer t.tg.deps.buffers.put(bp)
	buf := *bp
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if flush {
				if err := http.NewResponseController(w).Flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && isEventStreamType(ct[0])
}

// isEventStreamType reports whether a Content-Type value is
// text/event-stream.
func isEventStreamType(v string) bool {
	v = strings.TrimLeft(v, " \t")
	const es = "text/event-stream"
	return len(v) >= len(es) && strings.EqualFold(v[:len(es)], es) &&
		(len(v) == len(es) || v[len(es)] == ';' || v[len(es)] == ' ' || v[len(es)] == '\t')
}

// hopHeaders are the hop-by-hop headers ReverseProxy removes both ways.
var hopHeaders = [...]string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func isHopHeader(k string) bool {
	for _, h := range hopHeaders {
		if k == h {
			return true
		}
	}
	return false
}

// removeHopByHop removes the hop-by-hop headers of a response.
func removeHopByHop(h http.Header) {
	if conn := h["Connection"]; len(conn) > 0 {
		for k := range h {
			if hasToken(conn, k) {
				delete(h, k)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// copyHeader adds the values of src to dst, taking over src's slices where
// dst has none (src is not used afterwards).
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		if prior, ok := dst[k]; ok {
			dst[k] = append(prior, vv...)
		} else {
			dst[k] = vv
		}
	}
}

// connPool keeps a target's idle connections for the short way, the most
// recently used last: idle is in the order the connections went idle, so
// that one timer closes those idle for the timeout from the front.
type connPool struct {
	mu      sync.Mutex
	idle    []*upConn
	max     int
	timeout time.Duration
	sweep   *time.Timer // armed while a connection is idle
	armed   bool
}

// upConn is a connection to a target.
type upConn struct {
	net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	pool      *connPool
	idleSince time.Time   // when it went into the pool
	stop      func() bool // of the watch on the request's context
	cc        *clientConn // the watch's, when its client connection's

	head    simpleHead       // of the response read, when simple
	body    io.LimitedReader // its body
	fields  []field          // scratch of parseSimpleHead
	headBuf []byte           // the strings of fields: parseSimpleHead's copy of the head
}

// conn returns an idle connection to t, unless reuse is false or there is
// none, and a new one then: one of event loop lp, when it is not nil.
func (t *target) conn(ctx context.Context, reuse bool, lp *evloop) (uc *upConn, reused bool, err error) {
	pool := &t.pool
	if lp != nil {
		pool = &t.loopPools[lp.id]
	}
	if reuse {
		if uc := pool.get(); uc != nil {
			return uc, true, nil
		}
	}
	var c net.Conn
	if lp != nil {
		c, err = t.dialLoop(ctx, lp)
	} else {
		c, err = t.dial(ctx, "tcp", t.hostport)
	}
	if err != nil {
		return nil, false, err
	}
	return &upConn{Conn: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c), pool: pool}, false, nil
}

func (p *connPool) get() *upConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	uc := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	return uc
}

// put returns a connection whose exchange is complete to the pool, or
// closes it when the pool is full.
func (p *connPool) put(uc *upConn) {
	now := time.Now()
	p.mu.Lock()
	if len(p.idle) >= p.max {
		p.mu.Unlock()
		uc.close()
		return
	}
	uc.idleSince = now
	p.idle = append(p.idle, uc)
	if !p.armed {
		p.armed = true
		if p.sweep == nil {
			p.sweep = time.AfterFunc(p.timeout, p.expire)
		} else {
			p.sweep.Reset(p.timeout)
		}
	}
	p.mu.Unlock()
}

// expire closes the connections idle for the pool's timeout, and arms the
// timer for the next one to be.
func (p *connPool) expire() {
	now := time.Now()
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleSince) >= p.timeout {
		n++
	}
	expired := slices.Clone(p.idle[:n])
	p.idle = slices.Delete(p.idle, 0, n)
	if len(p.idle) > 0 {
		p.sweep.Reset(p.timeout - now.Sub(p.idle[0].idleSince))
	} else {
		p.armed = false
	}
	p.mu.Unlock()
	for _, uc := range expired {
		_ = uc.Close()
	}
}

// closeIdle closes the idle connections.
func (p *connPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, uc := range idle {
		_ = uc.Close()
	}
}

// watch breaks off the connection's I/O when the client of r goes away
// (r's context ends), until release. w is r's ResponseWriter: that of a
// connection the socket serves itself watches its client without a
// context.AfterFunc.
func (uc *upConn) watch(w http.ResponseWriter, r *http.Request) {
	if rec, ok := w.(*recorder); ok {
		if rw, ok := rec.ResponseWriter.(*respWriter); ok && rw.cc.ctx == r.Context() {
			uc.cc = rw.cc
			uc.cc.watchUpstream(uc.Conn)
			return
		}
	}
	uc.stop = context.AfterFunc(r.Context(), func() { _ = uc.SetDeadline(aLongTimeAgo) })
}

// aLongTimeAgo is a deadline that makes I/O fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// release ends the watch, and reports whether the connection is still
// usable: false when the watch broke its I/O off.
func (uc *upConn) release() bool {
	if uc.cc != nil {
		ok := uc.cc.unwatchUpstream()
		uc.cc = nil
		return ok
	}
	if uc.stop == nil {
		return true
	}
	ok := uc.stop()
	uc.stop = nil
	return ok
}

func (uc *upConn) close() { _ = uc.Close() }

// exchange writes r and reads the head of the response: a simple one into
// uc.head and uc.fields, any other into resp.
func (uc *upConn) exchange(r *http.Request, hostport string) (resp *http.Response, err error) {
	if err := writeRequest(uc.bw, r, hostport); err != nil {
		return nil, err
	}
	if ok, err := uc.readSimpleHead(r.Method); ok || err != nil {
		return nil, err
	}
	return http.ReadResponse(uc.br, r)
}

// writeRequest writes r as ReverseProxy and http.Transport would send it:
// the Host of the request (the target's address when it had none), the
// headers less the hop-by-hop ones and those its Connection header names,
// and "Te: trailers" when the client accepts trailers.
func writeRequest(bw *bufio.Writer, r *http.Request, hostport string) error {
	host := r.Host
	if host == "" {
		host = hostport
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if isHopHeader(k) || k == "Host" || k == "Content-Length" || (len(conn) > 0 && hasToken(conn, k)) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if hasToken(r.Header["Te"], "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	bw.WriteString("\r\n")
	return bw.Flush()
}
