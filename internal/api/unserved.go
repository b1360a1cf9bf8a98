package api

import (
	"net/http"
	"strings"

	"github.com/flotilla/flotilla/internal/model/services"
)

// unserved answers a request for an AWS service that no registered service
// serves, naming it in plain words: by the request's X-Amz-Target prefix
// when it has one that names a service, and otherwise by the signing name
// of its credential scope, with the protocol's code. It returns nil when neither names an AWS
// service.
func unserved(r *http.Request, signingName, code string) *Error {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if i := strings.LastIndexByte(t, '.'); i > 0 {
			if name, ok := services.ByTargetPrefix(t[:i]); ok {
				return Errorf(code, "Flotilla does not serve %s (%s) yet.", name, t[:i])
			}
		}
	}
	if name, ok := services.BySigningName(signingName); ok {
		return Errorf(code, "Flotilla does not serve %s (%s) yet.", name, signingName)
	}
	return nil
}
