package api

// The query protocol (not implemented yet).
//
// AWS's older services (elasticloadbalancing for ELBv2, monitoring for
// CloudWatch) speak the query protocol instead of JSON 1.1: a POST with
// Content-Type application/x-www-form-urlencoded whose body holds Action=,
// Version= and the flattened parameters (Names.member.1=...), answered with
// XML (<ActionResponse><ActionResult>...</ActionResult><ResponseMetadata>
// <RequestId>...</RequestId></ResponseMetadata></ActionResponse>) and errors
// as
//
//	<ErrorResponse><Error><Type>Sender</Type><Code>...</Code><Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse>
//
// with Content-Type text/xml, the same HTTP statuses, and the same
// x-amzn-RequestId header.
//
// They plug in next to JSONService, on the same listener and through the
// same authentication:
//
//	type QueryService struct {
//		SigningName string               // "elasticloadbalancing": routes the request
//		Version     string               // "2015-12-01": checked against Version=
//		XMLNamespace string              // of the response documents
//		Actions     map[string]Action    // made with a generic Query[I, O] adapter
//		ValidationErrorCode string       // "ValidationError"
//		MapError    func(error) *Error
//	}
//	func (s *Server) HandleQuery(QueryService)
//
// Routing: a request without X-Amz-Target goes to the query service whose
// SigningName is the service of its SigV4 credential scope, which Parse
// knows before the body is read (Auth.Identity().Service); the action is
// the form's Action= once the body is verified. So in serveAPI, route
// becomes "X-Amz-Target → JSON service, else credential scope → query
// service", and the *Error answers are written by the route's protocol: a
// small interface { writeError(w, req, *Error); writeOutput(w, req, out) }
// with the JSON implementation being writeError/writeJSON of this package.
// Errors found before a route is known (no signature at all) stay JSON, as
// AWS's shared front end answers them.
