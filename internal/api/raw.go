package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api/sigv4"
)

// RawRoute is a plain HTTP route of HandleAuthenticated.
type RawRoute struct {
	// SigningName is the service of the SigV4 credential scope requests
	// must be signed for, such as "ecs" for the agents' link. Required.
	SigningName string
	// Permit is the kinds of principal besides Account that may call the
	// route; the server refuses everyone else with AccessDeniedException
	// (HTTP 403) before calling Handler.
	Permit PrincipalKind
	// Handler serves the requests. Required.
	Handler http.Handler
}

// HandleAuthenticated registers a plain HTTP route for GET and PUT requests
// on path, or on every path under it when path ends in "/", such as the
// agents' WebSocket link. The server checks the request's SigV4 signature
// (a GET's with an empty payload, a PUT's with its body, which the handler
// then reads as usual), its credential scope and the route's permission
// before calling rt.Handler, and puts the request ID, the access key and
// the principal into the request's context. It panics when rt lacks its
// SigningName or Handler. It is not safe to call while serving.
func (s *Server) HandleAuthenticated(path string, rt RawRoute) {
	if rt.SigningName == "" || rt.Handler == nil {
		panic("api: HandleAuthenticated: SigningName and Handler are required")
	}
	if s.raw == nil {
		s.raw = map[string]RawRoute{}
	}
	s.raw[path] = rt
}

// rawHandler returns the handler registered for path: the exact one, or
// the one of the longest registered prefix ending in "/".
func (s *Server) rawHandler(path string) *RawRoute {
	if rt, ok := s.raw[path]; ok {
		return &rt
	}
	var best string
	for p := range s.raw {
		if strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) && len(p) > len(best) {
			best = p
		}
	}
	if best == "" {
		return nil
	}
	rt := s.raw[best]
	return &rt
}

// serveRaw answers a request for a handler registered with
// HandleAuthenticated; ok is false when none is registered for the path.
func (s *Server) serveRaw(w http.ResponseWriter, r *http.Request, req *request) (ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodPut {
		return false
	}
	rt := s.rawHandler(r.URL.Path)
	if rt == nil {
		return false
	}
	req.metrics = s.unknown
	var body []byte
	if r.Method == http.MethodPut {
		b, bp, err := s.readBody(r)
		defer releaseBody(bp)
		if err != nil {
			s.fail(w, r, req, err)
			return true
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	ident, err := s.verifier.Verify(r, body)
	if err != nil {
		s.fail(w, r, req, err)
		return true
	}
	if flotilla.ValidateRegion(ident.Region) != nil {
		s.fail(w, r, req, Errorf(sigv4.CodeInvalidSignature, "Credential should be scoped to a valid region, not '%s'.", ident.Region))
		return true
	}
	req.info.accessKeyID, req.info.region = ident.AccessKeyID, ident.Region
	if ident.Service != rt.SigningName {
		s.fail(w, r, req, Errorf(sigv4.CodeInvalidSignature, "Credential should be scoped to correct service: '%s'.", rt.SigningName))
		return true
	}
	if err := s.authorize(r.Context(), req, rt.Permit, rt.SigningName, r.Method+" "+r.URL.Path, rawStatus); err != nil {
		s.fail(w, r, req, err)
		return true
	}
	rt.Handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &req.info)))
	return true
}
