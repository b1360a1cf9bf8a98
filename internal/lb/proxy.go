package lb

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// errTargetCut fails the requests still trying to reach a target after its
// deregistration delay.
var errTargetCut = errors.New("target deregistered")

// newTarget makes a target with its own connection pool and proxy.
func newTarget(tg *targetGroup, rt resolvedTarget, key, scheme string) *target {
	t := &target{
		Target:   rt.Target,
		key:      key,
		tg:       tg,
		hostport: net.JoinHostPort(rt.Address, strconv.Itoa(rt.Port)),
		scheme:   scheme,
	}
	o := tg.deps.opts
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	t.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if t.cut.Load() {
			return nil, errTargetCut
		}
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return t.conns.track(c), nil
	}
	// An event loop connects to an IP address without a zone; to others
	// (a host name needs a DNS lookup) a connection leaves its loop first.
	if ap, err := netip.ParseAddrPort(t.hostport); err == nil && ap.Addr().Zone() == "" {
		t.addr = ap
	}
	t.pool = connPool{max: o.MaxIdleConnsPerTarget, timeout: o.TargetIdleTimeout}
	t.loopPools = make([]connPool, len(tg.deps.loops))
	for i := range t.loopPools {
		t.loopPools[i].max, t.loopPools[i].timeout = t.pool.max, t.pool.timeout
	}
	t.transport = &http.Transport{
		DialContext:         t.dial,
		MaxIdleConnsPerHost: o.MaxIdleConnsPerTarget,
		IdleConnTimeout:     o.TargetIdleTimeout,
		// A proxy passes Accept-Encoding through and bodies as they are.
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // targets' certificates are not verified, as in ELBv2
	}
	t.proxy = &httputil.ReverseProxy{
		Rewrite:      t.rewrite,
		Transport:    t.transport,
		BufferPool:   tg.deps.buffers,
		ErrorHandler: t.proxyError,
		ErrorLog:     slog.NewLogLogger(tg.log.Handler(), slog.LevelDebug),
	}
	return t
}

// closeIdle closes the target's idle connections.
func (t *target) closeIdle() {
	t.transport.CloseIdleConnections()
	t.pool.closeIdle()
	for i := range t.loopPools {
		t.loopPools[i].closeIdle()
	}
}

// rewrite points the outgoing request at the target. The forwarding headers
// were set on the incoming request by the listener (ReverseProxy removes them
// from the outgoing one before Rewrite); the query goes as it came.
func (t *target) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = t.scheme
	pr.Out.URL.Host = t.hostport
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	for _, h := range [...]string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"} {
		if v, ok := pr.In.Header[h]; ok {
			pr.Out.Header[h] = v
		}
	}
}

// proxyError answers a request the target failed: 504 when it could not be
// reached in time, 502 otherwise, nothing when the client went away.
func (t *target) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	rec, _ := w.(*recorder)
	if r.Context().Err() != nil {
		if rec != nil {
			rec.source, rec.code = sourceLB, statusClientClosed
		}
		return
	}
	t.tg.deps.metrics.targetErrs.WithLabelValues(t.tg.arn).Inc()
	var ne net.Error
	timeout := errors.As(err, &ne) && ne.Timeout()
	if rec != nil && rec.retryRefused && !timeout && nothingServed(err) {
		// Another target may take the request.
		t.tg.log.Debug("target refused the request; trying another", "target", t.key, "err", err)
		rec.refused = true
		return
	}
	code := http.StatusBadGateway
	if timeout {
		code = http.StatusGatewayTimeout
	}
	t.tg.log.Warn("target request failed", "target", t.key, "method", r.Method, "path", r.URL.Path,
		"status", code, "err", err)
	if rec != nil {
		rec.source = sourceLB
	}
	writeError(w, code)
}

// nothingServed reports whether a request that failed with err may be
// sent to another target: the target refused the connection (nothing was
// sent), or it broke the connection before answering a request of the
// short way (noResponseError).
func nothingServed(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var nr *noResponseError
	return errors.As(err, &nr)
}

// statusClientClosed is ELBv2's access log code for a request whose client
// closed the connection before the response.
const statusClientClosed = 460

// writeError writes an error of the load balancer itself, ELBv2's page.
func writeError(w http.ResponseWriter, code int) {
	text := strconv.Itoa(code) + " " + http.StatusText(code)
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(errorPage(text))))
	w.WriteHeader(code)
	_, _ = w.Write([]byte(errorPage(text)))
}

func errorPage(text string) string {
	return "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text +
		"</h1></center>\r\n</body>\r\n</html>\r\n"
}

// recorder notes the status of a response on its way to the client. It
// unwraps to the client's ResponseWriter, so flushes and protocol upgrades
// work through it.
type recorder struct {
	http.ResponseWriter
	code   int
	source int
	// retryRefused lets a target's refusal of the connection be tried on
	// another target: proxyError then sets refused and writes nothing.
	retryRefused bool
	refused      bool
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// setForwarded sets the headers ELBv2 adds to a request it forwards:
// X-Forwarded-For with the client's address appended, X-Forwarded-Proto and
// X-Forwarded-Port of the listener, and X-Amzn-Trace-Id when absent, of
// the request received at now. The values it makes are kept in sc, which
// must outlive the request (a new one when sc is nil).
func setForwarded(r *http.Request, proto, port []string, now time.Time, sc *fwdScratch) {
	if sc == nil {
		sc = new(fwdScratch)
	}
	h := r.Header
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		sc.vals[0] = ip
		h["X-Forwarded-For"] = sc.vals[0:1:1]
	}
	h["X-Forwarded-Proto"] = proto
	h["X-Forwarded-Port"] = port
	if _, ok := h["X-Amzn-Trace-Id"]; !ok {
		id := appendTraceID(sc.trace[:0], now)
		sc.vals[1] = unsafe.String(&id[0], len(id))
		h["X-Amzn-Trace-Id"] = sc.vals[1:2:2]
	}
}

// fwdScratch holds the values setForwarded makes for a request. A client
// connection the socket serves has one, reused by each of its requests:
// the values are valid until the connection's next request.
type fwdScratch struct {
	vals  [2]string
	trace [traceIDLen]byte
}

// traceIDLen is the most bytes an X-Amzn-Trace-Id appendTraceID makes
// has: Root=1-, 16 hex digits of seconds at most, -, 24 hex digits.
const traceIDLen = len("Root=1-") + 16 + 1 + 24

// appendTraceID appends a new X-Amzn-Trace-Id to dst: Root=1-<epoch
// seconds>-<96 random bits>, both in hex.
func appendTraceID(dst []byte, now time.Time) []byte {
	var b [12]byte
	hi, lo := rand.Uint64(), rand.Uint32()
	for i := range 8 {
		b[i] = byte(hi >> (8 * i))
	}
	for i := range 4 {
		b[8+i] = byte(lo >> (8 * i))
	}
	dst = append(dst, "Root=1-"...)
	dst = strconv.AppendInt(dst, now.Unix(), 16)
	dst = append(dst, '-')
	return hex.AppendEncode(dst, b[:])
}

// connSet tracks a target's open connections, so that they can be closed
// when its deregistration delay runs out.
type connSet struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

type trackedConn struct {
	net.Conn
	set  *connSet
	once sync.Once
}

func (s *connSet) track(c net.Conn) net.Conn {
	tc := &trackedConn{Conn: c, set: s}
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[*trackedConn]struct{}{}
	}
	s.conns[tc] = struct{}{}
	s.mu.Unlock()
	return tc
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.set.mu.Lock()
		delete(c.set.conns, c)
		c.set.mu.Unlock()
	})
	return c.Conn.Close()
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// bufferPool lends the copy buffers of response bodies, to ReverseProxy
// (as an httputil.BufferPool) and to the short way of plain requests.
type bufferPool struct{ p sync.Pool }

const proxyBufferSize = 32 << 10

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, proxyBufferSize); return &b }}}
}

func (bp *bufferPool) Get() []byte { return *bp.get() }

func (bp *bufferPool) Put(b []byte) {
	if cap(b) == proxyBufferSize {
		bp.put(&b)
	}
}

// get and put lend a buffer without the allocation of a slice header that
// Put needs.
func (bp *bufferPool) get() *[]byte { return bp.p.Get().(*[]byte) }

func (bp *bufferPool) put(b *[]byte) { bp.p.Put(b) }
