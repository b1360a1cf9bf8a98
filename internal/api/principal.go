package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/flotilla/flotilla/internal/api/sigv4"
)

// PrincipalKind is a kind of identity that signs requests. The kinds are
// bits, so that the kinds a route permits are one value.
type PrincipalKind uint8

const (
	// Account is the account's own access key: it may call every route.
	Account PrincipalKind = 1 << iota
	// Instance is a container instance's key, issued to its agent: it may
	// call the routes that permit Instance, and the handlers of those
	// refuse it another instance's resources (see CallerPrincipal).
	Instance
	// LBNode is a load balancer node's key: it may call the routes that
	// permit LBNode, the node routes.
	LBNode
)

// String returns the kind's name, such as "instance".
func (k PrincipalKind) String() string {
	var names []string
	for _, n := range [...]struct {
		k    PrincipalKind
		name string
	}{{Account, "account"}, {Instance, "instance"}, {LBNode, "lb-node"}} {
		if k&n.k != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// Principal is who signed a request. The Server derives it once per
// request, after the signature is verified and before the route's handler
// runs, from the access key; handlers read it with CallerPrincipal.
type Principal struct {
	// Kind is exactly one PrincipalKind.
	Kind PrincipalKind
	// ARN names the principal, in AccessDenied messages and to handlers:
	// the container instance's ARN for Instance; for the others whatever
	// Principals says, or "" (the messages then name the access key).
	ARN string
}

// Principals tells the Server who holds an access key.
type Principals interface {
	// Principal returns the principal of accessKeyID, a key whose signature
	// the Server has verified. It returns an error wrapping
	// sigv4.ErrUnknownAccessKey when it does not know the key; any other
	// error is a failure of the lookup and fails the request as a server
	// error.
	Principal(ctx context.Context, accessKeyID string) (Principal, error)
}

// StaticPrincipals is a fixed set of principals: access key id → principal.
type StaticPrincipals map[string]Principal

// Principal implements Principals.
func (p StaticPrincipals) Principal(_ context.Context, accessKeyID string) (Principal, error) {
	pr, ok := p[accessKeyID]
	if !ok {
		return Principal{}, sigv4.ErrUnknownAccessKey
	}
	return pr, nil
}

// PrincipalChain asks each of its Principals in turn; the first that knows
// the key answers.
type PrincipalChain []Principals

// Principal implements Principals.
func (c PrincipalChain) Principal(ctx context.Context, accessKeyID string) (Principal, error) {
	for _, p := range c {
		pr, err := p.Principal(ctx, accessKeyID)
		if errors.Is(err, sigv4.ErrUnknownAccessKey) {
			continue
		}
		return pr, err
	}
	return Principal{}, sigv4.ErrUnknownAccessKey
}

// CodeAccessDenied answers a principal calling a route it is not permitted
// (the JSON services' name; the query protocol's is AccessDenied, HTTP 403).
const CodeAccessDenied = "AccessDeniedException"

// authorize derives the principal of a verified request and decides
// whether it may call the route, which permits the kinds in permit besides
// Account; service and action name the route in the denial (as
// "<service>:<action>", joined only then: a permitted request costs no
// allocation). It stores the principal in req for the handler. It returns
// *Error for a denied request, with status, and another error when the
// lookup fails.
func (s *Server) authorize(ctx context.Context, req *request, permit PrincipalKind, service, action string, status int) error {
	p := Principal{Kind: Account}
	if s.cfg.Principals != nil {
		var err error
		p, err = s.cfg.Principals.Principal(ctx, req.info.accessKeyID)
		if errors.Is(err, sigv4.ErrUnknownAccessKey) {
			// A key the credentials know and the principals do not: the
			// server's own configuration is inconsistent. Fail closed.
			p = Principal{}
		} else if err != nil {
			return fmt.Errorf("look up the principal of %s: %w", req.info.accessKeyID, err)
		}
	}
	req.info.principal = p
	if p.Kind == Account || p.Kind != 0 && p.Kind&permit == p.Kind {
		return nil
	}
	who := p.ARN
	if who == "" {
		who = req.info.accessKeyID
	}
	return &Error{Code: CodeAccessDenied, Status: status,
		Message: fmt.Sprintf("User: %s is not authorized to perform: %s:%s", who, service, action)}
}

// rawStatus is the status of a raw route's denials: those routes are no AWS
// API, and 403 is what a plain HTTP client understands.
const rawStatus = http.StatusForbidden

// CallerPrincipal returns the principal of the request ctx belongs to, or
// the zero Principal outside a request.
func CallerPrincipal(ctx context.Context) Principal { return info(ctx).principal }

// Route is a registered route as Routes lists it.
type Route struct {
	// Protocol is "json", "query" or "raw" (HandleAuthenticated).
	Protocol string
	// SigningName is the service requests must be signed for.
	SigningName string
	// Name is the operation: "<TargetPrefix>.<operation>" for JSON, the
	// Action for query, the path (a prefix when it ends in "/") for raw.
	Name string
	// Permit is the kinds of principal besides Account that may call it.
	Permit PrincipalKind
}

// Routes returns every registered route with the principals it permits.
func (s *Server) Routes() []Route {
	var out []Route
	for prefix, rt := range *s.services.Load() {
		for name := range rt.ops {
			out = append(out, Route{Protocol: "json", SigningName: rt.svc.SigningName, Name: prefix + "." + name, Permit: rt.svc.Permit[name]})
		}
	}
	for _, rt := range s.queryRoutes() {
		for name := range rt.ops {
			out = append(out, Route{Protocol: "query", SigningName: rt.svc.SigningName, Name: name, Permit: rt.svc.Permit[name]})
		}
	}
	for path, rr := range s.raw {
		out = append(out, Route{Protocol: "raw", SigningName: rr.SigningName, Name: path, Permit: rr.Permit})
	}
	return out
}
