package lb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// socket is a listener's open socket and HTTP server. It serves the table
// it holds, which an Update swaps while the socket stays open.
type socket struct {
	arn      string
	bind     string // address:port as configured; a change reopens
	protocol string
	log      *slog.Logger

	ln  net.Listener
	srv *http.Server

	scheme   string   // http or https
	port     string   // bound
	fwdProto []string // X-Forwarded-Proto and X-Forwarded-Port values,
	fwdPort  []string // shared by all requests and never modified

	table   atomic.Pointer[table]
	closing atomic.Bool
	limit   *ConnLimit    // of the Server's client connections
	stop    chan struct{} // closed when the socket stops accepting
	stopped sync.Once

	// Plain HTTP: the connections the socket serves itself (conn.go), and
	// the way of the others to srv.
	plain         bool
	fast          fastConns // and for the sweep, those of srv
	handoff       *handoffListener
	connGauge     prometheus.Gauge
	headerTimeout time.Duration
	loops         []*evloop // serving its connections, when there are
	nextLoop      atomic.Uint32
}

// listen opens a listener's socket. It does not serve it yet.
func listen(l Listener, bind string, tbl *table, d *deps) (*socket, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.ARN, err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	k := &socket{
		arn:      l.ARN,
		bind:     bind,
		protocol: l.Protocol,
		log:      d.log.With("listener", l.ARN, "addr", ln.Addr().String()),
		ln:       ln,
		scheme:   strings.ToLower(l.Protocol),
		port:     port,
		fwdPort:  []string{port},
		limit:    d.limit,
		stop:     make(chan struct{}),
	}
	k.fwdProto = []string{k.scheme}
	k.table.Store(tbl)
	conns := d.metrics.connections.WithLabelValues(l.LoadBalancerARN)
	k.headerTimeout = d.opts.ReadHeaderTimeout
	k.srv = &http.Server{
		Handler: k,
		// When 0, the sweep closes a connection whose head takes longer
		// than the idle timeout: net/http reports it active only once
		// its head is read.
		ReadHeaderTimeout: d.opts.ReadHeaderTimeout,
		// No IdleTimeout: the socket's sweep closes idle connections.
		ErrorLog: slog.NewLogLogger(k.log.Handler(), slog.LevelDebug),
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				conns.Inc()
			case http.StateClosed, http.StateHijacked:
				conns.Dec() // the connection gives back its slot when it closes (slotConn)
			}
			k.httpConnState(c, st)
		},
	}
	k.fast = fastConns{conns: map[*clientConn]struct{}{}, http: map[net.Conn]*idleMark{}, changed: make(chan struct{}, 1)}
	if l.Protocol == ProtocolHTTPS {
		// Each table carries its certificates under its policy.
		k.srv.TLSConfig = &tls.Config{
			NextProtos: []string{"h2", "http/1.1"},
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return k.table.Load().tls, nil
			},
		}
	} else {
		k.plain = true
		k.handoff = newHandoffListener(ln.Addr())
		k.connGauge = conns
		k.loops = d.loops
	}
	return k, nil
}

// serve serves the socket until it is closed.
func (k *socket) serve() {
	var err error
	switch {
	case k.srv.TLSConfig != nil:
		err = k.srv.ServeTLS(&limitedListener{Listener: k.ln, k: k}, "", "")
	case k.plain:
		err = k.serveFast()
	default:
		err = k.srv.Serve(k.ln)
	}
	if !k.closing.Load() && !errors.Is(err, http.ErrServerClosed) {
		k.log.Error("listener stopped serving", "err", err)
	}
}

// stopAccepting closes the socket; connections already accepted go on.
func (k *socket) stopAccepting() {
	k.closing.Store(true)
	k.stopped.Do(func() { close(k.stop) })
	_ = k.ln.Close()
}

// shutdown closes the idle connections and waits for the others to finish
// their request, or for ctx to end. The socket must have stopped
// accepting.
func (k *socket) shutdown(ctx context.Context) error {
	if !k.plain {
		return k.srv.Shutdown(ctx)
	}
	errc := make(chan error, 1)
	go func() { errc <- k.srv.Shutdown(ctx) }()
	err := k.shutdownFast(ctx)
	return errors.Join(err, <-errc)
}

// close closes the socket and every connection at once.
func (k *socket) close() {
	k.stopAccepting()
	_ = k.srv.Close()
	if k.plain {
		k.closeFast()
	}
}

// ServeHTTP carries out the action of the rule a request matches.
func (k *socket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := k.table.Load().route(r)
	switch a.kind {
	case ActionForward:
		k.forward(w, r, &a.forward)
	case ActionRedirect:
		u := a.redirect.location(redirectVars{
			protocol: k.scheme,
			host:     stripPort(r.Host),
			port:     k.port,
			path:     strings.TrimPrefix(r.URL.EscapedPath(), "/"),
			query:    r.URL.RawQuery,
		})
		w.Header().Set("Location", u)
		w.WriteHeader(a.status)
		a.metrics.observe(sourceLB, a.status)
	case ActionFixedResponse:
		h := w.Header()
		h.Set("Content-Type", a.fixed.ContentType)
		h.Set("Content-Length", strconv.Itoa(len(a.fixed.MessageBody)))
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.fixed.MessageBody)
		a.metrics.observe(sourceLB, a.status)
	}
}

// forward sends a request to a target of the action's groups. A request
// with no body whose target refused the connection (nothing was sent), or
// an idempotent one with no body whose target broke the connection before
// answering (noResponseError), goes to another target of the group, up to
// maxRefusedRetries times, so that a target that died before its health
// checks tell does not fail requests another can serve.
func (k *socket) forward(w http.ResponseWriter, r *http.Request, f *forwardAction) {
	g := f.pick(r)
	if f.sticky {
		http.SetCookie(w, &http.Cookie{Name: stickyCookie, Value: g.cookie, Path: "/", MaxAge: f.maxAge})
	}
	t := g.tg.pick()
	if t == nil {
		writeError(w, http.StatusServiceUnavailable)
		g.metrics.observe(sourceLB, http.StatusServiceUnavailable)
		return
	}
	start := time.Now()
	rw, _ := w.(*respWriter)
	var sc *fwdScratch
	if rw != nil {
		sc = &rw.cc.fwd
	}
	setForwarded(r, k.fwdProto, k.fwdPort, start, sc)
	plain := t.isPlain(r)
	if !plain && rw != nil {
		// The request's strings are its connection's, for this request
		// only, and http.Transport may still be writing a request when
		// its response has come.
		r = ownStrings(r)
	}
	if !plain {
		// The target may answer before it has read the whole request,
		// and go on reading it: let the request and the response stream
		// together.
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	var rec *recorder
	if rw != nil {
		rec = &rw.rec
	} else {
		rec = &recorder{ResponseWriter: w}
	}
	bodiless := r.Body == nil || r.Body == http.NoBody
	var refused [maxRefusedRetries]*target
	for try := 0; ; try++ {
		if rw != nil && rw.cc.lc != nil && (!plain || !t.addr.IsValid()) {
			// What follows would block the connection's event loop.
			if rw.cc.leaveLoop() != nil {
				panic(http.ErrAbortHandler) // the client is gone
			}
		}
		*rec = recorder{ResponseWriter: w, retryRefused: bodiless && try < maxRefusedRetries}
		if !k.forwardTo(t, rec, r, plain, g.metrics, start) {
			return
		}
		refused[try] = t
		if t = g.tg.pickOther(refused[:try+1]); t == nil {
			t = refused[try] // no other: the last one's error it is
			rec.retryRefused = false
			k.forwardTo(t, rec, r, plain, g.metrics, start)
			return
		}
	}
}

// maxRefusedRetries is how many other targets a request whose target
// refused the connection is tried on.
const maxRefusedRetries = 3

// forwardTo sends a request to t, and reports true, having written
// nothing, when t failed it in a way another target may not
// (nothingServed) and rec.retryRefused allowed trying another.
func (k *socket) forwardTo(t *target, rec *recorder, r *http.Request, plain bool, m *routeMetrics, start time.Time) (retry bool) {
	t.acquire()
	defer func() {
		// Also when the proxy panics with http.ErrAbortHandler (the target
		// broke off mid-response).
		t.release()
		if rec.refused {
			retry = true
			return
		}
		m.observeDuration(time.Since(start))
		if rec.code == 0 {
			rec.source, rec.code = sourceLB, http.StatusBadGateway
		}
		m.observe(rec.source, rec.code)
	}()
	if plain {
		t.servePlain(rec, r)
	} else {
		t.proxy.ServeHTTP(rec, r)
	}
	return false
}
