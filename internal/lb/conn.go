package lb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Plain HTTP listeners serve their connections themselves rather than
// through net/http's server, which spends a goroutine per request on a
// background read, clones every response's header, and allocates the
// request a piece at a time. A connection's goroutine reads each request's
// head with a small, strict parser; a simple request (GET, HEAD, OPTIONS
// or TRACE with no body, no Expect and no Upgrade, HTTP/1.0 or 1.1, in
// origin form, with a head that fits the read buffer and that net/http
// would take as it is) is served by the socket's ServeHTTP, its response
// written straight to the connection's buffer. At the first request that
// is anything else, malformed ones included, the connection is handed with
// the bytes already read to the listener's net/http server for the rest of
// its life, so that bodies, chunked requests, 100-continue, upgrades and
// the 400s of malformed requests are net/http's. HTTPS listeners go through
// net/http only.

// sweepInterval is how often a socket's sweep looks at its connections,
// while it has some: it closes those idle for the idle timeout, and has the
// client of a request that has run for a whole interval watched for going
// away, which cancels the request (net/http watches from the start, at the
// cost of a goroutine per request). So a request costs no timer, deadline
// or clock reading of its own.
const sweepInterval = 20 * time.Millisecond

// clientBufSize is the size of a connection's read and write buffers; a
// request head that does not fit goes to net/http.
const clientBufSize = 4 << 10

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, clientBufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, clientBufSize) }}
)

// serveFast accepts the socket's connections until it is closed, and serves
// them; net/http's server serves those handed over.
func (k *socket) serveFast() error {
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		_ = k.srv.Serve(k.handoff)
	}()
	defer func() { <-srvDone }()
	var backoff time.Duration
	for {
		// A slot first: at the Server's bound on client connections, the
		// next ones wait in the backlog, not in file descriptors.
		if !k.limit.acquire(k.stop) {
			return net.ErrClosed
		}
		c, err := k.ln.Accept()
		if err != nil {
			k.limit.release()
			if errors.Is(err, net.ErrClosed) || k.closing.Load() {
				return err
			}
			// Out of file descriptors and the like: wait and try again, as
			// net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			k.log.Warn("accept failed", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if k.adoptInLoop(c) {
			continue
		}
		cc := k.track(c, nil)
		if cc == nil {
			_ = c.Close()
			k.limit.release()
			continue
		}
		go cc.serve()
	}
}

// fastConns are the client connections of a socket: those of a plain
// HTTP socket serves itself, and for the sweep those its net/http server
// serves (handed over, and every connection of an HTTPS socket).
type fastConns struct {
	mu       sync.Mutex
	conns    map[*clientConn]struct{}
	http     map[net.Conn]*idleMark
	shutting atomic.Bool   // new connections are refused, idle ones closed
	changed  chan struct{} // a connection ended
	sweeping bool          // sweep runs
	tick     atomic.Int64  // sweeps so far
}

// track registers a new client connection c, to be served by event loop
// lp (c is then lp's) or, when lp is nil, by a goroutine; it returns nil
// when the socket shuts down.
func (k *socket) track(c net.Conn, lp *evloop) *clientConn {
	f := &k.fast
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.shutting.Load() {
		return nil
	}
	cc := newClientConn(k, c)
	if lp != nil {
		cc.lc, cc.lp = c.(*coConn), lp
	}
	f.conns[cc] = struct{}{}
	k.connGauge.Inc()
	k.startSweep()
	return cc
}

// idleMark tells whether a connection is idle between requests, and since
// which of the socket's sweeps.
type idleMark struct {
	idle  atomic.Bool
	since atomic.Int64
}

// httpConnState keeps the idle marks of the connections of the socket's
// net/http server, as its ConnState hook: net/http has no idle timeout of
// its own here, so that a change of the load balancer's applies to them.
func (k *socket) httpConnState(c net.Conn, st http.ConnState) {
	f := &k.fast
	f.mu.Lock()
	defer f.mu.Unlock()
	switch st {
	case http.StateNew:
		m := &idleMark{}
		m.since.Store(f.tick.Load())
		m.idle.Store(true) // until the first byte of its first request
		f.http[c] = m
		k.startSweep()
	case http.StateActive, http.StateIdle:
		if m := f.http[c]; m != nil {
			if st == http.StateIdle {
				m.since.Store(f.tick.Load())
			}
			m.idle.Store(st == http.StateIdle)
		}
	case http.StateClosed, http.StateHijacked:
		delete(f.http, c)
	}
}

// expired reports whether the connection has been idle for more than
// ticks sweeps at sweep now.
func (m *idleMark) expired(now, ticks int64) bool {
	return m.idle.Load() && now-m.since.Load() > ticks
}

// startSweep starts the sweep unless it runs; k.fast.mu is held.
func (k *socket) startSweep() {
	if f := &k.fast; !f.sweeping {
		f.sweeping = true
		go k.sweep()
	}
}

// sweep closes the connections idle for the idle timeout, and starts the
// watch of the client of every request running for a sweep interval, every
// sweep interval until the socket has no connection.
func (k *socket) sweep() {
	f := &k.fast
	tick := time.NewTicker(sweepInterval)
	defer tick.Stop()
	for range tick.C {
		now := f.tick.Add(1)
		idleTicks := int64(k.table.Load().idleTimeout/sweepInterval) + 1
		f.mu.Lock()
		if len(f.conns) == 0 && len(f.http) == 0 {
			f.sweeping = false
			f.mu.Unlock()
			return
		}
		var expired []net.Conn
		for cc := range f.conns {
			if cc.mark.expired(now, idleTicks) {
				expired = append(expired, cc.c)
				continue
			}
			if cc.lp != nil {
				if cc.peerShut.Load() && cc.ctx.Err() == nil && cc.runningSince(now) {
					cc.lp.post(cc.clientGone)
				}
				continue
			}
			cc.watchClient(now)
		}
		for c, m := range f.http {
			if m.expired(now, idleTicks) {
				expired = append(expired, c)
			}
		}
		f.mu.Unlock()
		// Closed outside the lock, and each on its own: closing a TLS
		// connection writes an alert, which a client that stopped reading
		// holds up for seconds.
		for _, c := range expired {
			go func() { _ = c.Close() }()
		}
	}
}

// untrack forgets a connection that closed or was handed over, and gives
// back its slot of the limit unless it was handed over (the connection
// handed over gives it back when it closes: replayConn).
func (k *socket) untrack(cc *clientConn) {
	f := &k.fast
	f.mu.Lock()
	delete(f.conns, cc)
	f.mu.Unlock()
	k.connGauge.Dec()
	if !cc.handed {
		k.limit.release()
	}
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// setIdle marks cc idle between requests or active, and reports whether it
// may go on: false once the socket shuts down (when idle, the connection is
// closed). It takes no lock, every connection of the socket calling it
// twice a request: shutdownFast stores shutting before it reads idle, and
// setIdle stores idle before it reads shutting, so that a connection going
// idle as the socket shuts down is closed by one or the other.
func (k *socket) setIdle(cc *clientConn, idle bool) bool {
	if idle {
		cc.mark.since.Store(k.fast.tick.Load())
	}
	cc.mark.idle.Store(idle)
	return !k.fast.shutting.Load()
}

// shutdownFast closes the idle connections and waits for the others to
// finish their request, or for ctx to end.
func (k *socket) shutdownFast(ctx context.Context) error {
	f := &k.fast
	f.mu.Lock()
	f.shutting.Store(true)
	for cc := range f.conns {
		if cc.mark.idle.Load() {
			_ = cc.c.Close()
		}
	}
	f.mu.Unlock()
	for {
		f.mu.Lock()
		n := len(f.conns)
		f.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-f.changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// closeFast closes every connection.
func (k *socket) closeFast() {
	f := &k.fast
	f.mu.Lock()
	f.shutting.Store(true)
	for cc := range f.conns {
		_ = cc.c.Close()
	}
	f.mu.Unlock()
}

// handoffListener is how connections reach the socket's net/http server.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// hand gives c to the server, and reports false when it is closed.
func (l *handoffListener) hand(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

// replayConn is a connection handed over with bytes already read from it,
// and its slot of the limit.
type replayConn struct {
	slotConn
	buf []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// clientConn is a client connection the socket serves itself.
type clientConn struct {
	k      *socket
	c      net.Conn
	cr     connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	remote string
	ctx    context.Context
	cancel context.CancelFunc
	req    *http.Request // reused by every request, with ctx
	w      respWriter
	mark   idleMark
	handed bool // to the socket's net/http server

	// The watch on the client going away while a request runs, and the
	// request's connection to a target, broken off when it does.
	bgMu      sync.Mutex
	inReq     bool
	reqTick   int64 // the sweep's tick when the request started
	bgRunning bool
	aborting  bool
	bgDone    chan struct{}
	upstream  net.Conn
	upBroken  bool

	// The event loop serving the connection and its socket there, nil for
	// a connection with a goroutine of its own; changed with
	// k.fast.mu held.
	lp *evloop
	lc *coConn
	// The loop saw the client shut its side of the connection (or close
	// it): the sweep has the request running canceled, as watchClient
	// does.
	peerShut atomic.Bool

	// The strings of the request being served (target, header names and
	// values, host), its URL and the slices of its header values, and the
	// values setForwarded adds: reused by each request, valid until the
	// next one (forward gives httputil.ReverseProxy copies).
	head []byte
	url  url.URL
	vals []string
	fwd  fwdScratch
}

// connReader reads the connection, behind the byte the watch may have
// read.
type connReader struct {
	c          net.Conn
	pending    [1]byte
	hasPending bool
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.hasPending && len(p) > 0 {
		p[0] = r.pending[0]
		r.hasPending = false
		return 1, nil
	}
	return r.c.Read(p)
}

func newClientConn(k *socket, c net.Conn) *clientConn {
	cc := &clientConn{k: k, c: c, remote: c.RemoteAddr().String()}
	cc.cr.c = c
	cc.ctx, cc.cancel = context.WithCancel(context.Background())
	cc.req = (&http.Request{}).WithContext(cc.ctx)
	cc.w.cc = cc
	cc.w.header = make(http.Header, 8)
	return cc
}

// serve serves the connection's requests until it closes or is handed
// over.
func (cc *clientConn) serve() {
	k := cc.k
	cc.br = readerPool.Get().(*bufio.Reader)
	cc.br.Reset(&cc.cr)
	cc.bw = writerPool.Get().(*bufio.Writer)
	cc.bw.Reset(cc.c)
	handed := false
	defer func() {
		cc.cancel()
		if !handed {
			_ = cc.bw.Flush() // the last response, if any
			_ = cc.c.Close()
		}
		cc.br.Reset(nil)
		readerPool.Put(cc.br)
		cc.bw.Reset(nil)
		writerPool.Put(cc.bw)
		k.untrack(cc)
	}()
	for {
		if cc.br.Buffered() == 0 {
			if !k.setIdle(cc, true) {
				return
			}
			if _, err := cc.br.Peek(1); err != nil {
				return
			}
		}
		if !k.setIdle(cc, false) {
			return
		}
		simple, err := cc.readRequest()
		if err != nil {
			return
		}
		if !simple {
			if cc.bw.Flush() != nil || cc.leaveLoop() != nil {
				return
			}
			_ = cc.c.SetReadDeadline(time.Time{})
			handed = cc.handOff()
			return
		}
		if !cc.serveRequest() || cc.ctx.Err() != nil {
			return
		}
		if cc.br.Buffered() == 0 && cc.bw.Flush() != nil {
			return
		}
	}
}

// handOff gives the connection, with what was read of it, to net/http.
func (cc *clientConn) handOff() bool {
	buf, _ := cc.br.Peek(cc.br.Buffered())
	rc := &replayConn{slotConn: slotConn{Conn: cc.c, limit: cc.k.limit}}
	if cc.cr.hasPending {
		rc.buf = append(rc.buf, cc.cr.pending[0])
	}
	rc.buf = append(rc.buf, buf...)
	cc.k.connGauge.Dec() // counted again by the server's ConnState
	if !cc.k.handoff.hand(rc) {
		cc.k.connGauge.Inc()
		return false
	}
	cc.k.connGauge.Inc() // untrack decrements
	cc.handed = true     // and its slot goes with it
	return true
}

// serveRequest serves the request read, and reports whether the connection
// may serve another.
func (cc *clientConn) serveRequest() (keep bool) {
	w := &cc.w
	defer func() {
		cc.endWatch()
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler { //nolint:errorlint // net/http compares it the same way
				cc.k.log.Error("panic serving request", "panic", p)
			}
			_ = cc.bw.Flush()
			keep = false
		}
	}()
	cc.startWatch()
	cc.k.ServeHTTP(w, cc.req)
	if cc.ctx.Err() != nil {
		// The client went away: what is left of the answer is dropped,
		// rather than ended with what the handler did not write.
		cc.bw.Reset(cc.c)
		return false
	}
	w.finish()
	return !w.closeAfter
}

// startWatch has the client watched once the request has run for a sweep
// interval; endWatch ends the watch.
func (cc *clientConn) startWatch() {
	tick := cc.k.fast.tick.Load()
	cc.bgMu.Lock()
	cc.inReq, cc.reqTick = true, tick
	cc.bgMu.Unlock()
}

func (cc *clientConn) endWatch() {
	cc.bgMu.Lock()
	cc.inReq = false
	running := cc.bgRunning
	if running {
		cc.aborting = true
		_ = cc.c.SetReadDeadline(aLongTimeAgo)
	}
	cc.bgMu.Unlock()
	if running {
		<-cc.bgDone
		_ = cc.c.SetReadDeadline(time.Time{})
		cc.bgMu.Lock()
		cc.bgRunning, cc.aborting = false, false
		cc.bgMu.Unlock()
	}
}

// runningSince reports whether a request has run for a whole sweep
// interval at the sweep's tick now.
func (cc *clientConn) runningSince(now int64) bool {
	cc.bgMu.Lock()
	defer cc.bgMu.Unlock()
	return cc.inReq && now-cc.reqTick >= 2
}

// watchClient reads the connection while a request that has run for a
// whole sweep interval at the sweep's tick now runs: a read that fails means the client went away,
// which cancels the request and breaks off its connection to the target.
// A byte read (the next request, pipelined) is kept for the next read.
func (cc *clientConn) watchClient(now int64) {
	cc.bgMu.Lock()
	defer cc.bgMu.Unlock()
	if cc.lc != nil || !cc.inReq || cc.bgRunning || cc.cr.hasPending || now-cc.reqTick < 2 {
		return // an event loop watches its connections itself
	}
	cc.bgRunning = true
	cc.bgDone = make(chan struct{})
	_ = cc.c.SetReadDeadline(time.Time{})
	go func() {
		defer close(cc.bgDone)
		n, err := cc.c.Read(cc.cr.pending[:])
		if n == 1 {
			cc.cr.hasPending = true
			return
		}
		cc.bgMu.Lock()
		defer cc.bgMu.Unlock()
		if err != nil && !cc.aborting {
			cc.cancel()
			cc.breakUpstream()
		}
	}()
}

// clientGone is what an event loop does when the client of cc went away
// (or shut its side down) while a request runs: the request is canceled,
// and its connection to the target broken off.
func (cc *clientConn) clientGone() {
	cc.bgMu.Lock()
	defer cc.bgMu.Unlock()
	if !cc.inReq {
		return
	}
	cc.cancel()
	cc.breakUpstream()
}

// watchUpstream has c, the request's connection to its target, broken off
// when the client goes away, until unwatchUpstream, which reports whether
// c is still usable. It is what context.AfterFunc on the request's context
// would do, without its allocations.
func (cc *clientConn) watchUpstream(c net.Conn) {
	cc.bgMu.Lock()
	cc.upstream = c
	if cc.ctx.Err() != nil {
		cc.breakUpstream()
	}
	cc.bgMu.Unlock()
}

func (cc *clientConn) unwatchUpstream() bool {
	cc.bgMu.Lock()
	broken := cc.upBroken
	cc.upstream, cc.upBroken = nil, false
	cc.bgMu.Unlock()
	return !broken
}

// breakUpstream makes the I/O on the request's connection to its target
// fail; cc.bgMu is held.
func (cc *clientConn) breakUpstream() {
	if cc.upstream != nil && !cc.upBroken {
		cc.upBroken = true
		_ = cc.upstream.SetDeadline(aLongTimeAgo)
	}
}

// readRequest reads the next request's head into cc.req. It reports false,
// having consumed nothing, when the request is not simple; an error when
// the connection failed or timed out.
func (cc *clientConn) readRequest() (bool, error) {
	if buf, _ := cc.br.Peek(cc.br.Buffered()); !bytes.Contains(buf, crlf2) {
		// The rest of the head is to come within the header timeout, the
		// load balancer's idle timeout unless the Server's options set
		// one (most heads come whole, and cost no deadline).
		_ = cc.c.SetReadDeadline(time.Now().Add(cc.k.headerTimeoutNow()))
		defer func() { _ = cc.c.SetReadDeadline(time.Time{}) }()
	}
	head, err := peekHead(cc.br)
	if head == nil || !cc.parse(head) {
		return false, err
	}
	_, _ = cc.br.Discard(len(head))
	return true, nil
}

// peekHead reads from br until its buffer holds a message head (up to the
// first empty line), and returns it without consuming it: nil when it does
// not fit in the buffer or has a bare LF (net/http reads those; the strict
// parsers do not, and need not wait for a CRLF CRLF that may never come),
// with an error when the read failed.
func peekHead(br *bufio.Reader) ([]byte, error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.Index(buf, crlf2); i >= 0 {
			buf = buf[:i+4]
			if hasBareLF(buf) {
				return nil, nil
			}
			return buf, nil
		}
		if br.Buffered() >= br.Size() || hasBareLF(buf) {
			return nil, nil
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return nil, err
		}
	}
}

var crlf2 = []byte("\r\n\r\n")

// hasBareLF reports whether b has a LF not preceded by a CR.
func hasBareLF(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return false
		}
		if i+j == 0 || b[i+j-1] != '\r' {
			return true
		}
		i += j + 1
	}
}

// parse fills cc.req from a request head ending in an empty line, and
// reports whether the request is simple.
func (cc *clientConn) parse(head []byte) bool {
	// Cheap checks on the bytes before anything is allocated.
	eol := bytes.Index(head, crlf2[:2])
	line := head[:eol]
	var method string
	switch {
	case bytes.HasPrefix(line, []byte("GET ")):
		method = http.MethodGet
	case bytes.HasPrefix(line, []byte("HEAD ")):
		method = http.MethodHead
	case bytes.HasPrefix(line, []byte("OPTIONS ")):
		method = http.MethodOptions
	case bytes.HasPrefix(line, []byte("TRACE ")):
		method = http.MethodTrace
	default:
		return false
	}
	line = line[len(method)+1:]
	var minor int
	switch {
	case bytes.HasSuffix(line, []byte(" HTTP/1.1")):
		minor = 1
	case bytes.HasSuffix(line, []byte(" HTTP/1.0")):
	default:
		return false
	}
	uriBytes := line[:len(line)-len(" HTTP/1.1")]
	if len(uriBytes) == 0 || uriBytes[0] != '/' || bytes.IndexByte(head, '\n') != eol+1 {
		return false
	}
	for _, b := range uriBytes {
		if b <= ' ' || b == 0x7f {
			return false
		}
	}

	// The request's strings are the connection's: a copy of the head in
	// cc.head, overwritten by the next request's (so the header map the
	// last one filled is cleared first).
	h := cc.w.reqHeader
	if h == nil {
		h = make(http.Header, 8)
		cc.w.reqHeader = h
	} else {
		clear(h)
	}
	all := copyString(&cc.head, head[:len(head)-2])
	s := all[eol+2:] // the header lines
	uri := all[len(method)+1 : len(method)+1+len(uriBytes)]
	u := &cc.url
	if !parseOriginForm(uri, u) {
		var err error
		if u, err = url.ParseRequestURI(uri); err != nil {
			return false
		}
	}
	c := strings.Count(s, "\r\n")
	if cap(cc.vals) < c {
		cc.vals = make([]string, c)
	}
	vals := cc.vals[:c]
	var host string
	hosts, n := 0, 0
	ok := scanFields(s, func(key, v string) bool {
		switch key {
		case "Host":
			hosts++
			host = v
			return validHost(v)
		case "Content-Length":
			if v != "0" || len(h[key]) > 0 {
				return false
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Trailer":
			return false
		}
		vals[n] = v
		if prior, ok := h[key]; ok {
			h[key] = append(prior[:len(prior):len(prior)], v)
		} else {
			h[key] = vals[n : n+1 : n+1]
		}
		n++
		return true
	})
	if !ok {
		return false
	}
	if hosts > 1 || hosts == 0 && minor == 1 {
		return false
	}
	if pragma := h["Pragma"]; len(pragma) > 0 && pragma[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	conn := h["Connection"]
	closeReq := hasToken(conn, "close")
	if minor == 0 {
		closeReq = closeReq || !hasToken(conn, "keep-alive")
	}

	r := cc.req
	r.Method = method
	r.URL = u
	r.Proto = "HTTP/1.1"
	if minor == 0 {
		r.Proto = "HTTP/1.0"
	}
	r.ProtoMajor, r.ProtoMinor = 1, minor
	r.Header = h
	r.Body = http.NoBody
	r.ContentLength = 0
	r.Close = closeReq
	r.Host = host
	r.RemoteAddr = cc.remote
	r.RequestURI = uri
	cc.w.reset(r)
	return true
}

// copyString returns a string of b's bytes copied into *buf (grown when
// too small): no allocation once the buffer is large enough, and valid
// only until *buf is written again.
func copyString(buf *[]byte, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(*buf) < len(b) {
		*buf = make([]byte, len(b))
	}
	return unsafe.String(&(*buf)[0], copy((*buf)[:len(b)], b))
}

// parseOriginForm sets *u to what url.ParseRequestURI makes of uri, a
// request target in origin form, without allocating, and reports whether
// it could: a path of characters a URL's path has unescaped (no
// percent-encoding), and any query. The others are for
// url.ParseRequestURI; FuzzParseOriginForm holds the two to the same.
func parseOriginForm(uri string, u *url.URL) bool {
	if len(uri) == 0 || uri[0] != '/' {
		return false
	}
	path, query, hasQuery := strings.Cut(uri, "?")
	for i := 0; i < len(path); i++ {
		if !pathByte[path[i]] {
			return false
		}
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	// As net/url: a lone "?" at the end is kept as ForceQuery.
	force := hasQuery && query == ""
	*u = url.URL{Path: path, RawQuery: query, ForceQuery: force}
	return true
}

// pathByte holds the bytes a URL's path has as they are: those net/url
// escapes in no path (letters, digits, -._~ and the reserved $&+,/:;=@).
var pathByte = alnumAnd("-._~$&+,/:;=@")

// ownStrings returns a copy of r, a request of a connection the socket
// serves, with strings of its own instead of its connection's.
func ownStrings(r *http.Request) *http.Request {
	r2 := r.Clone(r.Context())
	h := make(http.Header, len(r.Header))
	for k, vs := range r.Header {
		c := make([]string, len(vs))
		for i, v := range vs {
			c[i] = strings.Clone(v)
		}
		h[strings.Clone(k)] = c
	}
	r2.Header = h
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = strings.Clone(u.Path), strings.Clone(u.RawPath), strings.Clone(u.RawQuery)
	r2.URL = &u
	r2.Host, r2.RequestURI = strings.Clone(r.Host), strings.Clone(r.RequestURI)
	return r2
}

// scanFields reads header lines (each ending in CRLF, the empty line left
// out), calling add with each field's canonical name and its value without
// surrounding blanks. It reports false, at once, on a line net/http might
// read otherwise than it would (a bare LF, a folded line, a name that is
// not a token, a control character in the value) and when add does.
func scanFields(s string, add func(key, value string) bool) bool {
	for len(s) > 0 {
		i := strings.Index(s, "\r\n")
		if i < 0 {
			return false
		}
		ln := s[:i]
		s = s[i+2:]
		if strings.IndexByte(ln, '\n') >= 0 || ln == "" || ln[0] == ' ' || ln[0] == '\t' {
			return false
		}
		colon := strings.IndexByte(ln, ':')
		if colon <= 0 || !validFieldName(ln[:colon]) {
			return false
		}
		v := strings.Trim(ln[colon+1:], " \t")
		if !validFieldValue(v) || !add(textproto.CanonicalMIMEHeaderKey(ln[:colon]), v) {
			return false
		}
	}
	return true
}

// hasToken reports whether comma-separated header values hold token, in
// any case.
func hasToken(vals []string, token string) bool {
	for _, v := range vals {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(f), token) {
				return true
			}
		}
	}
	return false
}

// validFieldName reports whether s is an RFC 9110 token.
func validFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isTokenByte[c] {
			return false
		}
	}
	return true
}

var isTokenByte = alnumAnd("!#$%&'*+-.^_`|~")

// alnumAnd returns the table of ASCII letters and digits and of extra's
// bytes.
func alnumAnd(extra string) (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for i := 0; i < len(extra); i++ {
		t[extra[i]] = true
	}
	return t
}

// validFieldValue reports whether s has no control character but tab.
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost reports whether s has only the bytes net/http allows in a Host
// header.
func validHost(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0) {
			return false
		}
	}
	return true
}
