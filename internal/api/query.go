package api

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/model"
)

// Content types of the query protocol.
const (
	// FormContentType is the Content-Type of query-protocol POST requests.
	FormContentType = "application/x-www-form-urlencoded"
	// XMLContentType is the Content-Type of query-protocol responses, errors
	// included, as AWS's query services send them.
	XMLContentType = "text/xml"
)

// Error codes of the query protocol's answers. AWS's query services share
// them (they are the "common errors" of their API references).
const (
	// CodeInvalidAction: the form has no Action=, or names no operation of
	// the service at its Version=.
	CodeInvalidAction = "InvalidAction"
	// CodeMissingParameter: the form has no Version=.
	CodeMissingParameter = "MissingParameter"
	// CodeValidationError is the default QueryService.ValidationErrorCode,
	// ELBv2's: a parameter of the wrong type or an input that breaks the
	// model's constraints.
	CodeValidationError = "ValidationError"
	// CodeMalformedQueryString: the form cannot be parsed, or the body
	// cannot be read.
	CodeMalformedQueryString = "MalformedQueryString"
	// CodeRequestEntityTooLarge: the body is over Config.MaxBodyBytes (HTTP
	// 413).
	CodeRequestEntityTooLarge = "RequestEntityTooLarge"
	// CodeInternalFailure is the query protocol's ServerException: HTTP 500,
	// with no more said than msgServerError.
	CodeInternalFailure = "InternalFailure"
	// CodeSignatureDoesNotMatch is the query protocol's
	// InvalidSignatureException (HTTP 403).
	CodeSignatureDoesNotMatch = "SignatureDoesNotMatch"
)

// QueryService is one AWS query-protocol service, such as Elastic Load
// Balancing v2: every request without X-Amz-Target whose body is a form
// (POST, Content-Type application/x-www-form-urlencoded) or whose URL holds
// one (GET), and whose SigV4 credential scope names SigningName, goes to
// Operations[Action].
type QueryService struct {
	// SigningName is the service name of the SigV4 credential scope, such as
	// "elasticloadbalancing": it routes the request, and it is the service
	// label of the metrics.
	SigningName string
	// Version is the API version, such as "2015-12-01"; requests must send it
	// as Version=.
	Version string
	// XMLNamespace is the default namespace of the response documents, such
	// as "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"; none
	// when empty.
	XMLNamespace string
	// Operations maps action names to their handlers, made with Query.
	Operations map[string]QueryOperation
	// Permit maps action names to the kinds of principal besides Account
	// that may call them; an action not in it is the account's alone. The
	// server refuses everyone else with AccessDenied (HTTP 403).
	Permit map[string]PrincipalKind
	// ValidationErrorCode answers a parameter of the wrong type and
	// *model.ValidationError (from an input's Validate or from a handler);
	// "ValidationError" when empty.
	ValidationErrorCode string
	// Refused lists the input members that the service does not honour yet:
	// a request setting one is answered ValidationErrorCode, naming it,
	// before the handler runs. It may be nil.
	Refused Refusals
	// MapError is the service's one table from domain errors to wire errors,
	// consulted for errors that are neither *Error nor an error type of the
	// model (which answer as they are). It returns nil for an error it does
	// not know, which is then answered InternalFailure and logged. It may be
	// nil.
	MapError func(error) *Error
}

// QueryOperation is one operation of a query service. Make it with Query.
type QueryOperation struct {
	// invoke decodes params, validates, calls the handler and returns the
	// output to write (never nil) or an error for the service's error table.
	invoke func(ctx context.Context, params *model.QueryNode, refused Refusals) (queryResult, error)
	input  reflect.Type
}

// InputType returns the type of the operation's input structure.
func (o QueryOperation) InputType() reflect.Type { return o.input }

// queryInput is implemented by the generated inputs of query services.
type queryInput interface {
	UnmarshalQuery(params *model.QueryNode) error
}

// queryResult is implemented by the generated outputs of query services.
type queryResult interface {
	MarshalQueryResult(w *model.XMLWriter)
}

// modeledError is implemented by the error types generated from a query
// service's model (elbv2.LoadBalancerNotFoundException...): a handler may
// return them, wrapped or not, to answer with the model's code and status.
type modeledError interface {
	error
	ErrorCode() string
	ErrorMessage() string
	HTTPStatus() int
}

// Query makes a QueryOperation of a handler whose input and output types
// are generated for the query protocol (*I has UnmarshalQuery, *O has
// MarshalQueryResult; it panics otherwise). The request's form is decoded
// into a new I (unknown parameters are ignored); a parameter of the wrong
// type is answered with the service's ValidationErrorCode, as is a
// *model.ValidationError from I's Validate method. Then h is called: its
// output is written as the <ActionResult> element of the response (nil as
// an empty one), its error goes through the service's error mapping (see
// QueryService.MapError). A panic in Validate or h is answered
// InternalFailure and logged.
func Query[I, O any](h func(ctx context.Context, in *I) (*O, error)) QueryOperation {
	if _, ok := any(new(I)).(queryInput); !ok {
		panic(fmt.Sprintf("api: Query: *%T has no UnmarshalQuery method: use a type generated for the query protocol", *new(I)))
	}
	if _, ok := any(new(O)).(queryResult); !ok {
		panic(fmt.Sprintf("api: Query: *%T has no MarshalQueryResult method: use a type generated for the query protocol", *new(O)))
	}
	return QueryOperation{input: reflect.TypeFor[I](), invoke: func(ctx context.Context, params *model.QueryNode, refused Refusals) (queryResult, error) {
		in := new(I)
		if err := any(in).(queryInput).UnmarshalQuery(params); err != nil {
			return nil, err
		}
		if v, ok := any(in).(validator); ok {
			if err := v.Validate(); err != nil {
				return nil, err
			}
		}
		if err := refused.Check(in); err != nil {
			return nil, err
		}
		out, err := h(ctx, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = new(O)
		}
		return any(out).(queryResult), nil
	}}
}

// queryRoute is a registered QueryService.
type queryRoute struct {
	svc     QueryService
	ops     map[string]*queryOp
	unknown *opMetrics // service known, action not
}

type queryOp struct {
	name    string
	op      QueryOperation
	metrics *opMetrics
}

// HandleQuery registers a query-protocol service. It panics, as
// http.ServeMux does, when svc lacks its SigningName or Version, when a
// query service with that SigningName is already registered, or when an
// operation was not made with Query. It is safe to call while serving.
func (s *Server) HandleQuery(svc QueryService) {
	if svc.SigningName == "" || svc.Version == "" {
		panic("api: HandleQuery: SigningName and Version are required")
	}
	if svc.ValidationErrorCode == "" {
		svc.ValidationErrorCode = CodeValidationError
	}
	rt := &queryRoute{
		svc:     svc,
		ops:     make(map[string]*queryOp, len(svc.Operations)),
		unknown: s.metrics.forOperation(svc.SigningName, unknownLabel),
	}
	for name, op := range svc.Operations {
		if op.invoke == nil {
			panic(fmt.Sprintf("api: HandleQuery: operation %s.%s was not made with api.Query", svc.SigningName, name))
		}
		rt.ops[name] = &queryOp{name: name, op: op, metrics: s.metrics.forOperation(svc.SigningName, name)}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var old map[string]*queryRoute
	if p := s.queries.Load(); p != nil {
		old = *p
	}
	if _, dup := old[svc.SigningName]; dup {
		panic("api: HandleQuery: signing name " + svc.SigningName + " registered twice")
	}
	next := make(map[string]*queryRoute, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[svc.SigningName] = rt
	s.queries.Store(&next)
}

// queryRoutes returns the registered query services by signing name, or nil.
func (s *Server) queryRoutes() map[string]*queryRoute {
	if p := s.queries.Load(); p != nil {
		return *p
	}
	return nil
}

// isQuery reports whether r is for a query service: no X-Amz-Target, and a
// form body (POST) or a URL with an Action (GET), while some query service
// is registered. Everything else keeps the JSON protocol's routing and
// answers.
func (s *Server) isQuery(r *http.Request) bool {
	if len(r.Header["X-Amz-Target"]) > 0 || len(s.queryRoutes()) == 0 {
		return false
	}
	switch r.Method {
	case http.MethodPost:
		ct := r.Header["Content-Type"]
		if len(ct) == 0 {
			return false
		}
		mt, _, err := mime.ParseMediaType(ct[0])
		return err == nil && mt == FormContentType
	case http.MethodGet:
		return strings.Contains(r.URL.RawQuery, "Action=")
	}
	return false
}

// scopeService returns the service of r's SigV4 credential scope
// (Credential=AKID/20260101/us-east-1/<service>/aws4_request, in the
// Authorization header or a presigned URL), or "" if r has none. It only
// routes: the signature is checked later, against the same scope.
func scopeService(r *http.Request) string {
	var cred string
	if h := r.Header["Authorization"]; len(h) > 0 {
		_, cred, _ = strings.Cut(h[0], "Credential=")
		cred, _, _ = strings.Cut(cred, ",")
	} else if i := strings.Index(r.URL.RawQuery, "X-Amz-Credential="); i >= 0 {
		cred, _, _ = strings.Cut(r.URL.RawQuery[i+len("X-Amz-Credential="):], "&")
		cred, _ = url.QueryUnescape(cred)
	}
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// serveQuery answers a query-protocol request, in the same steps as the
// JSON protocol's: SigV4 header checks, the body, the signature, the route
// (the credential scope's service, then Action= and Version=), decoding,
// Validate, the handler, the error table. Every answer is XML.
func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, req *request) {
	req.hdr[2] = XMLContentType
	rt := s.queryRoutes()[scopeService(r)]
	req.metrics = s.unknown
	ns := ""
	if rt != nil {
		req.metrics, ns = rt.unknown, rt.svc.XMLNamespace
	}

	auth, err := s.verifier.Parse(r)
	if err != nil {
		s.failQuery(w, r, req, ns, err)
		return
	}
	body, bp, err := s.readBody(r)
	defer releaseBody(bp)
	if err != nil {
		if err != errReadBody {
			err = &Error{Code: CodeRequestEntityTooLarge, Message: s.errTooLarge().Message, Status: http.StatusRequestEntityTooLarge}
		}
		s.failQuery(w, r, req, ns, err)
		return
	}
	ident, err := auth.Verify(body)
	if err != nil {
		s.failQuery(w, r, req, ns, err)
		return
	}
	req.info.accessKeyID, req.info.region = ident.AccessKeyID, ident.Region
	if flotilla.ValidateRegion(ident.Region) != nil {
		s.failQuery(w, r, req, ns, Errorf(CodeSignatureDoesNotMatch, "Credential should be scoped to a valid region, not '%s'.", ident.Region))
		return
	}
	form, err := queryForm(r, body)
	if err != nil {
		s.failQuery(w, r, req, ns, err)
		return
	}
	if rt == nil || rt.svc.SigningName != ident.Service {
		if e := unserved(r, ident.Service, CodeInvalidAction); e != nil {
			s.failQuery(w, r, req, ns, e)
			return
		}
		s.failQuery(w, r, req, ns, Errorf(CodeInvalidAction, "No query API is served for the service '%s' of the credential scope.", ident.Service))
		return
	}
	action := form.Get("Action")
	op := rt.ops[action]
	if op != nil {
		req.metrics = op.metrics
	}
	version := form.Get("Version")
	switch {
	case action == "":
		s.failQuery(w, r, req, ns, errMissingAction)
		return
	case version == "":
		s.failQuery(w, r, req, ns, errMissingVersion)
		return
	case op == nil || version != rt.svc.Version:
		s.failQuery(w, r, req, ns, Errorf(CodeInvalidAction, "Could not find operation %s for version %s.", action, version))
		return
	}

	if err := s.authorize(r.Context(), req, rt.svc.Permit[action], rt.svc.SigningName, action, 0); err != nil {
		s.failQuery(w, r, req, ns, err)
		return
	}

	ctx := context.WithValue(r.Context(), ctxKey{}, &req.info)
	xw, e := s.callQuery(ctx, rt, op, model.ParseQuery(form), req)
	if e != nil {
		s.writeQueryError(w, r, req, ns, e)
		return
	}
	s.finish(r, req, http.StatusOK, nil)
	writeJSON(w, req, http.StatusOK, xw.Bytes()) // with req.hdr[2]'s content type, XML's
	putXMLWriter(xw)
}

var (
	errMissingAction  = &Error{Code: CodeInvalidAction, Message: "The request must contain the parameter Action."}
	errMissingVersion = &Error{Code: CodeMissingParameter, Message: "The request must contain the parameter Version."}
)

// queryForm returns the parameters of a query request: those of the URL,
// then, for a POST, those of the body.
func queryForm(r *http.Request, body []byte) (url.Values, error) {
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err == nil && r.Method == http.MethodPost {
		var fromBody url.Values
		fromBody, err = url.ParseQuery(string(body))
		for k, v := range fromBody {
			form[k] = append(form[k], v...)
		}
	}
	if err != nil {
		return nil, Errorf(CodeMalformedQueryString, "The query string is malformed: %s.", strings.TrimPrefix(err.Error(), "invalid "))
	}
	return form, nil
}

// callQuery runs op and writes its response document, recovering a panic
// anywhere in decoding, validation, the handler, the error mapping or the
// encoding.
func (s *Server) callQuery(ctx context.Context, rt *queryRoute, op *queryOp, params *model.QueryNode, req *request) (xw *model.XMLWriter, e *Error) {
	defer func() {
		if p := recover(); p != nil {
			req.cause, req.internal, req.stack = fmt.Errorf("panic: %v", p), true, debug.Stack()
			if xw != nil {
				putXMLWriter(xw)
			}
			xw, e = nil, serverError
		}
	}()
	out, err := op.op.invoke(ctx, params, rt.svc.Refused)
	if err != nil {
		e, req.internal = rt.toError(err)
		if req.internal || e.HTTPStatus() >= 500 {
			req.cause = err
		}
		return nil, e
	}
	xw = getXMLWriter()
	xw.StartNS(op.name+"Response", rt.svc.XMLNamespace)
	out.MarshalQueryResult(xw)
	xw.Start("ResponseMetadata")
	xw.Element("RequestId", req.info.requestID)
	xw.End("ResponseMetadata")
	xw.End(op.name + "Response")
	return xw, nil
}

// toError is the package's toError with the model's error types first.
func (rt *queryRoute) toError(err error) (*Error, bool) {
	var ae *Error
	var me modeledError
	if !errors.As(err, &ae) && errors.As(err, &me) {
		e := &Error{Code: me.ErrorCode(), Message: me.ErrorMessage(), Status: me.HTTPStatus()}
		return e, e.HTTPStatus() >= 500
	}
	return toError(err, rt.svc.ValidationErrorCode, rt.svc.MapError)
}

// failQuery answers err, which is an *Error, a *sigv4.Error, or a failure of
// the server (a credentials lookup).
func (s *Server) failQuery(w http.ResponseWriter, r *http.Request, req *request, ns string, err error) {
	e, internal := toError(err, CodeValidationError, nil)
	if internal {
		req.cause, req.internal = err, true
	}
	s.writeQueryError(w, r, req, ns, e)
}

// writeQueryError answers e in the query protocol's error shape:
//
//	<ErrorResponse xmlns="..."><Error><Type>Sender</Type><Code>...</Code>
//	<Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse>
//
// with the codes of the query protocol for the protocol layer's own errors
// (see queryCodes). The Type is Receiver from HTTP 500 up, Sender below.
func (s *Server) writeQueryError(w http.ResponseWriter, r *http.Request, req *request, ns string, e *Error) {
	e = queryWireError(e)
	status := e.HTTPStatus()
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	xw := getXMLWriter()
	xw.StartNS("ErrorResponse", ns)
	xw.Start("Error")
	xw.Element("Type", fault)
	xw.Element("Code", e.Code)
	xw.Element("Message", e.Message)
	xw.End("Error")
	xw.Element("RequestId", req.info.requestID)
	xw.End("ErrorResponse")
	s.finish(r, req, status, e)
	writeJSON(w, req, status, xw.Bytes())
	putXMLWriter(xw)
}

// queryCodes renames the protocol layer's errors, named as the JSON
// protocol names them, as AWS's query services name them; authentication
// failures are HTTP 403 there.
var queryCodes = map[string]Error{
	sigv4.CodeMissingAuthenticationToken: {Code: "MissingAuthenticationToken", Status: http.StatusForbidden},
	sigv4.CodeIncompleteSignature:        {Code: "IncompleteSignature", Status: http.StatusBadRequest},
	sigv4.CodeUnrecognizedClient:         {Code: "InvalidClientTokenId", Status: http.StatusForbidden},
	sigv4.CodeInvalidSignature:           {Code: CodeSignatureDoesNotMatch, Status: http.StatusForbidden},
	CodeSignatureDoesNotMatch:            {Code: CodeSignatureDoesNotMatch, Status: http.StatusForbidden},
	CodeServerException:                  {Code: CodeInternalFailure, Status: http.StatusInternalServerError},
	CodeInternalFailure:                  {Code: CodeInternalFailure, Status: http.StatusInternalServerError},
	CodeSerialization:                    {Code: CodeMalformedQueryString, Status: http.StatusBadRequest},
	CodeServiceUnavailable:               {Code: "ServiceUnavailable", Status: http.StatusServiceUnavailable},
	CodeAccessDenied:                     {Code: "AccessDenied", Status: http.StatusForbidden},
}

// queryWireError returns e as a query service answers it.
func queryWireError(e *Error) *Error {
	q, ok := queryCodes[e.Code]
	if !ok {
		return e
	}
	if e.Status != 0 {
		q.Status = e.Status
	}
	q.Message = e.Message
	return &q
}

var xmlWriterPool = sync.Pool{New: func() any { return new(model.XMLWriter) }}

func getXMLWriter() *model.XMLWriter {
	xw := xmlWriterPool.Get().(*model.XMLWriter)
	xw.Reset()
	return xw
}

func putXMLWriter(xw *model.XMLWriter) {
	if cap(xw.Bytes()) <= maxPooledBuffer {
		xmlWriterPool.Put(xw)
	}
}
