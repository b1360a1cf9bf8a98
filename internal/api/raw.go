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

// HandleAuthenticated registers a plain HTTP handler for GET and PUT
// requests on path, or on every path under it when path ends in "/", such
// as the agents' WebSocket link. The server checks the request's SigV4
// signature (a GET's with an empty payload, a PUT's with its body, which h
// then reads as usual) before calling h, and puts the request ID and
// access key into the request's context. It is not safe to call while
// serving.
func (s *Server) HandleAuthenticated(path string, h http.Handler) {
	if s.raw == nil {
		s.raw = map[string]http.Handler{}
	}
	s.raw[path] = h
}

// rawHandler returns the handler registered for path: the exact one, or
// the one of the longest registered prefix ending in "/".
func (s *Server) rawHandler(path string) http.Handler {
	if h := s.raw[path]; h != nil {
		return h
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
	return s.raw[best]
}

// serveRaw answers a request for a handler registered with
// HandleAuthenticated; ok is false when none is registered for the path.
func (s *Server) serveRaw(w http.ResponseWriter, r *http.Request, req *request) (ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodPut {
		return false
	}
	h := s.rawHandler(r.URL.Path)
	if h == nil {
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
	h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &req.info)))
	return true
}
