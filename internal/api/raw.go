package api

import (
	"context"
	"net/http"

	"github.com/flotilla/flotilla/internal/api/sigv4"
)

// HandleAuthenticated registers a plain HTTP handler for GET requests on
// path, such as the agents' WebSocket link. The server checks the request's
// SigV4 signature (with an empty payload) before calling h, and puts the
// request ID and access key into the request's context. It is not safe to
// call while serving.
func (s *Server) HandleAuthenticated(path string, h http.Handler) {
	if s.raw == nil {
		s.raw = map[string]http.Handler{}
	}
	s.raw[path] = h
}

// serveRaw answers a request for a handler registered with
// HandleAuthenticated; ok is false when none is registered for the path.
func (s *Server) serveRaw(w http.ResponseWriter, r *http.Request, req *request) (ok bool) {
	h := s.raw[r.URL.Path]
	if h == nil || r.Method != http.MethodGet {
		return false
	}
	req.metrics = s.unknown
	ident, err := s.verifier.Verify(r, nil)
	if err != nil {
		s.fail(w, r, req, err)
		return true
	}
	if s.cfg.Region != "" && ident.Region != s.cfg.Region {
		s.fail(w, r, req, Errorf(sigv4.CodeInvalidSignature, "Credential should be scoped to a valid region, not '%s'.", ident.Region))
		return true
	}
	req.info.accessKeyID, req.info.region = ident.AccessKeyID, ident.Region
	h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &req.info)))
	return true
}
