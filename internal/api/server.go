package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api/sigv4"
)

// DefaultMaxBodyBytes is the default limit of a request body.
const DefaultMaxBodyBytes = 4 << 20

// Config configures a Server. The zero value of every field but Credentials
// has a default.
type Config struct {
	// Credentials are the access keys requests are signed with. Required.
	Credentials sigv4.Credentials
	// Principals says who holds each access key the Credentials know: the
	// server derives the principal of every signed request from it and
	// decides with each route's permissions (JSONService.Permit,
	// QueryService.Permit, RawRoute.Permit) whether it may call the route,
	// before any handler runs. When nil, every key is the Account's.
	Principals Principals
	// Logger receives request logs, with component=api; slog.Default() when nil.
	Logger *slog.Logger
	// Registerer registers the request metrics; a new registry when nil.
	Registerer prometheus.Registerer
	// Gatherer is what MetricsHandler serves; when nil, the Registerer if it
	// is also a Gatherer (as *prometheus.Registry is), and nothing otherwise.
	Gatherer prometheus.Gatherer
	// Clock is the time for SigV4's clock skew window and the Date header;
	// time.Now when nil.
	Clock func() time.Time
	// MaxBodyBytes limits request bodies; DefaultMaxBodyBytes when 0.
	MaxBodyBytes int64
}

// Validate reports whether c can make a Server.
func (c Config) Validate() error {
	if c.Credentials == nil {
		return errors.New("api: config: credentials are required")
	}
	if c.MaxBodyBytes < 0 {
		return fmt.Errorf("api: config: max body bytes %d is negative", c.MaxBodyBytes)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registerer == nil {
		reg := prometheus.NewRegistry()
		c.Registerer = reg
		if c.Gatherer == nil {
			c.Gatherer = reg
		}
	}
	if c.Gatherer == nil {
		c.Gatherer, _ = c.Registerer.(prometheus.Gatherer)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return c
}

// Server serves every AWS-compatible API of Flotilla on one HTTP handler. It
// authenticates each request with SigV4, routes it by protocol (X-Amz-Target
// for JSON services), and answers errors in AWS's shapes. Register services
// with HandleJSON before serving Handler.
type Server struct {
	cfg      Config
	log      *slog.Logger
	verifier *sigv4.Verifier
	metrics  *metrics
	unknown  *opMetrics // service and operation both unknown
	metricsH http.Handler

	mu       sync.Mutex                             // serializes HandleJSON and HandleQuery
	services atomic.Pointer[map[string]*jsonRoute]  // by TargetPrefix, copied on write
	queries  atomic.Pointer[map[string]*queryRoute] // by SigningName, copied on write; nil until HandleQuery
	date     atomic.Pointer[httpDate]
	raw      map[string]RawRoute // HandleAuthenticated, by path
}

// jsonRoute is a registered JSONService.
type jsonRoute struct {
	svc     JSONService
	ops     map[string]*jsonOp
	unknown *opMetrics // service known, operation not
}

type jsonOp struct {
	name    string
	op      Operation
	metrics *opMetrics
}

// NewServer returns a Server with no services. It panics if cfg.Validate
// fails.
func NewServer(cfg Config) *Server {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "api"),
		verifier: sigv4.NewVerifier(cfg.Credentials, cfg.Clock),
		metrics:  newMetrics(cfg.Registerer),
	}
	s.unknown = s.metrics.forOperation(unknownLabel, unknownLabel)
	if cfg.Gatherer != nil {
		s.metricsH = promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{})
	}
	s.services.Store(&map[string]*jsonRoute{})
	return s
}

// HandleJSON registers a JSON 1.1 service. It panics, as http.ServeMux does,
// when svc lacks its TargetPrefix or SigningName, when the prefix is already
// registered, or when an operation was not made with JSON. It is safe to call
// while serving.
func (s *Server) HandleJSON(svc JSONService) {
	if svc.TargetPrefix == "" || svc.SigningName == "" {
		panic("api: HandleJSON: TargetPrefix and SigningName are required")
	}
	if svc.ValidationErrorCode == "" {
		svc.ValidationErrorCode = CodeValidation
	}
	rt := &jsonRoute{
		svc:     svc,
		ops:     make(map[string]*jsonOp, len(svc.Operations)),
		unknown: s.metrics.forOperation(svc.SigningName, unknownLabel),
	}
	for name, op := range svc.Operations {
		if op.invoke == nil {
			panic(fmt.Sprintf("api: HandleJSON: operation %s.%s was not made with api.JSON", svc.TargetPrefix, name))
		}
		rt.ops[name] = &jsonOp{name: name, op: op, metrics: s.metrics.forOperation(svc.SigningName, name)}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.services.Load()
	if _, dup := old[svc.TargetPrefix]; dup {
		panic("api: HandleJSON: target prefix " + svc.TargetPrefix + " registered twice")
	}
	next := make(map[string]*jsonRoute, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[svc.TargetPrefix] = rt
	s.services.Store(&next)
}

// Handler returns the HTTP handler of every route: GET /healthz without
// authentication, the GET and PUT routes of HandleAuthenticated and the AWS
// APIs (POST) with it. The metrics are not among them (they name every
// resource): see MetricsHandler.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// MetricsHandler returns the Prometheus handler of Config.Gatherer, to be
// served on a listener of its own (it has no authentication); it answers
// 404 when there is no Gatherer.
func (s *Server) MetricsHandler() http.Handler {
	if s.metricsH == nil {
		return http.NotFoundHandler()
	}
	return s.metricsH
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{start: time.Now()}
	req.info.requestID = newRequestID()
	// One allocation for the header values of the response.
	req.hdr = [...]string{req.info.requestID, s.httpDate(), JSONContentType, "", ""}
	h := w.Header()
	h[headerRequestID] = req.hdr[0:1:1]
	h["Date"] = req.hdr[1:2:2]

	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path == "/healthz" {
		h["Content-Type"] = []string{"text/plain; charset=utf-8"}
		io.WriteString(w, "ok")
		return
	}
	if r.Method != http.MethodPost && s.serveRaw(w, r, req) {
		return
	}
	s.serveAPI(w, r, req)
}

// request is the state of one API request, for its response, log line and
// metrics.
type request struct {
	info     requestInfo // what handlers see through the context
	start    time.Time
	hdr      [5]string // response header values: request id, date, content type, length, error type
	metrics  *opMetrics
	cause    error  // the real error of a 5xx, for the log only
	internal bool   // the cause is a server fault (log at error level)
	stack    []byte // of a recovered panic
}

// Headers the AWS protocols define, in AWS's own spelling (net/http writes
// map keys as they are).
const (
	headerRequestID = "x-amzn-RequestId"
	headerErrorType = "x-amzn-ErrorType"
)

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, req *request) {
	if s.isQuery(r) {
		s.serveQuery(w, r, req)
		return
	}
	// Routing needs no body, and the route's labels count even rejected
	// requests; its errors are answered after authentication, as AWS does.
	rt, op, routeErr := s.route(r)
	req.metrics = s.unknown
	switch {
	case op != nil:
		req.metrics = op.metrics
	case rt != nil:
		req.metrics = rt.unknown
	}

	auth, err := s.verifier.Parse(r)
	if err != nil {
		s.fail(w, r, req, err)
		return
	}
	body, bp, err := s.readBody(r)
	defer releaseBody(bp)
	if err != nil {
		s.fail(w, r, req, err)
		return
	}
	ident, err := auth.Verify(body)
	if err != nil {
		s.fail(w, r, req, err)
		return
	}
	req.info.accessKeyID, req.info.region = ident.AccessKeyID, ident.Region
	if err := flotilla.ValidateRegion(ident.Region); err != nil {
		s.fail(w, r, req, Errorf(sigv4.CodeInvalidSignature, "Credential should be scoped to a valid region, not '%s'.", ident.Region))
		return
	}
	if rt == nil {
		if e := unserved(r, ident.Service, CodeUnknownOperation); e != nil {
			routeErr = e
		}
	}
	if routeErr != nil {
		s.fail(w, r, req, routeErr)
		return
	}
	if ident.Service != rt.svc.SigningName {
		s.fail(w, r, req, Errorf(sigv4.CodeInvalidSignature, "Credential should be scoped to correct service: '%s'.", rt.svc.SigningName))
		return
	}

	if err := s.authorize(r.Context(), req, rt.svc.Permit[op.name], rt.svc.SigningName, op.name, 0); err != nil {
		s.fail(w, r, req, err)
		return
	}

	ctx := context.WithValue(r.Context(), ctxKey{}, &req.info)
	enc, e := s.call(ctx, rt, op, body, req)
	if e != nil {
		s.writeError(w, r, req, e)
		return
	}
	s.finish(r, req, http.StatusOK, nil)
	writeJSON(w, req, http.StatusOK, enc.bytes())
	enc.release()
}

// route finds the JSON operation X-Amz-Target names. It returns the service
// even when the operation is unknown, for the metrics. (Query-protocol
// requests never get here; see isQuery.)
func (s *Server) route(r *http.Request) (*jsonRoute, *jsonOp, *Error) {
	t := r.Header["X-Amz-Target"]
	if len(t) == 0 || t[0] == "" {
		return nil, nil, errMissingTarget
	}
	target := t[0]
	i := strings.LastIndexByte(target, '.')
	if i < 0 {
		return nil, nil, Errorf(CodeUnknownOperation, "Unknown operation %q: X-Amz-Target must be <service>.<operation>.", target)
	}
	rt := (*s.services.Load())[target[:i]]
	if rt == nil {
		return nil, nil, Errorf(CodeUnknownOperation, "Unknown operation %q: no service has the target prefix %q.", target, target[:i])
	}
	op := rt.ops[target[i+1:]]
	if op == nil {
		return rt, nil, Errorf(CodeUnknownOperation, "Unknown operation %q.", target)
	}
	if r.Method != http.MethodPost {
		return rt, op, Errorf(CodeUnknownOperation, "Operation %q must be called with POST, not %s.", target, r.Method)
	}
	return rt, op, nil
}

var errMissingTarget = &Error{Code: CodeUnknownOperation, Message: "Missing X-Amz-Target header: AWS JSON requests name their operation there, as <service>.<operation>."}

// call runs op, recovering a panic anywhere in decoding, validation, the
// handler, the error mapping or the encoding.
func (s *Server) call(ctx context.Context, rt *jsonRoute, op *jsonOp, body []byte, req *request) (enc *encoder, e *Error) {
	defer func() {
		if p := recover(); p != nil {
			req.cause, req.internal, req.stack = fmt.Errorf("panic: %v", p), true, debug.Stack()
			enc, e = nil, serverError
		}
	}()
	out, err := op.op.invoke(ctx, body, rt.svc.Refused)
	if err != nil {
		e, req.internal = toError(err, rt.svc.ValidationErrorCode, rt.svc.MapError)
		if req.internal || e.HTTPStatus() >= 500 {
			req.cause = err
		}
		return nil, e
	}
	enc = getEncoder()
	if err := enc.encode(out); err != nil {
		enc.release()
		req.cause, req.internal = fmt.Errorf("encode %s output: %w", op.name, err), true
		return nil, serverError
	}
	return enc, nil
}

// fail answers err, which is an *Error, a *sigv4.Error, or a failure of the
// server (a credentials lookup).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, req *request, err error) {
	e, internal := toError(err, CodeValidation, nil)
	if internal {
		req.cause, req.internal = err, true
	}
	s.writeError(w, r, req, e)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, req *request, e *Error) {
	status := e.HTTPStatus()
	req.hdr[4] = e.Code
	w.Header()[headerErrorType] = req.hdr[4:5:5]
	enc := getEncoder()
	if err := enc.encode(errorBody{Type: e.Code, Message: e.Message}); err != nil {
		panic(err) // two strings always encode
	}
	s.finish(r, req, status, e)
	writeJSON(w, req, status, enc.bytes())
	enc.release()
}

// errorBody is the error shape of AWS's JSON protocols.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, req *request, status int, body []byte) {
	req.hdr[3] = strconv.Itoa(len(body))
	h := w.Header()
	h["Content-Type"] = req.hdr[2:3:3]
	h["Content-Length"] = req.hdr[3:4:4]
	w.WriteHeader(status)
	w.Write(body)
}

// finish logs the request and counts it, just before its response is
// written (so that the response is never seen before its metrics).
func (s *Server) finish(r *http.Request, req *request, status int, e *Error) {
	d := time.Since(req.start)
	code := codeOK
	if e != nil {
		code = e.Code
	}
	req.metrics.observe(code, d)

	level := slog.LevelDebug
	switch {
	case req.internal:
		level = slog.LevelError
	case status >= 500:
		level = slog.LevelWarn
	case status >= 400:
		level = slog.LevelInfo
	}
	ctx := r.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs,
		slog.String("request_id", req.info.requestID),
		slog.String("service", req.metrics.service),
		slog.String("operation", req.metrics.operation),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("remote_addr", r.RemoteAddr),
	)
	if req.info.accessKeyID != "" {
		attrs = append(attrs, slog.String("access_key_id", req.info.accessKeyID))
	}
	if e != nil {
		attrs = append(attrs, slog.String("error_code", e.Code), slog.String("error_message", clip(e.Message)))
	}
	if req.cause != nil {
		attrs = append(attrs, slog.String("error", clip(req.cause.Error())))
	}
	if req.stack != nil {
		attrs = append(attrs, slog.String("stack", string(req.stack)))
	}
	s.log.LogAttrs(ctx, level, "request", attrs...)
}

// maxLoggedText is the most bytes of an error's text a log line holds.
const maxLoggedText = 1 << 10

// clip returns s cut to maxLoggedText bytes (at a character's start), with
// how long it was, so that no error text makes a log line of megabytes.
func clip(s string) string {
	if len(s) <= maxLoggedText {
		return s
	}
	cut := maxLoggedText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "... (" + strconv.Itoa(len(s)) + " bytes in all)"
}

// httpDate returns the Date header value of now, formatted once a second.
func (s *Server) httpDate() string {
	now := s.cfg.Clock()
	sec := now.Unix()
	if d := s.date.Load(); d != nil && d.sec == sec {
		return d.value
	}
	d := &httpDate{sec: sec, value: now.UTC().Format(http.TimeFormat)}
	s.date.Store(d)
	return d.value
}

type httpDate struct {
	sec   int64
	value string
}
