// Package api serves Flotilla's AWS-compatible APIs over HTTP: one listener
// for every service, requests authenticated with AWS Signature Version 4
// (package sigv4), routed the way AWS routes them, and answered in AWS's wire
// shapes so that the aws CLI, boto3 and the AWS SDKs work unchanged.
//
// A JSON 1.1 service (ECS and ACM; later Application Auto Scaling, Cloud
// Map, CloudWatch Logs) is a JSONService: a target prefix, a SigV4 signing name, a table of
// operations made with the generic adapter JSON, and the service's one
// error table. The server dispatches POST requests by X-Amz-Target:
//
//	srv := api.NewServer(api.Config{Credentials: creds, Logger: log})
//	srv.HandleJSON(api.JSONService{
//		TargetPrefix:        "AmazonEC2ContainerServiceV20141113",
//		SigningName:         "ecs",
//		Operations:          map[string]api.Operation{"CreateCluster": api.JSON(ecs.CreateCluster)},
//		ValidationErrorCode: "InvalidParameterException",
//		MapError:            mapError,
//	})
//	http.ListenAndServe(addr, srv.Handler())
//
// Every JSON request goes through the same steps, and the first failure is the
// answer: SigV4 header checks (no body read yet), the body (at most
// Config.MaxBodyBytes), the signature over the body, the route (X-Amz-Target,
// then the credential scope's service and region), the permission, JSON
// decoding, Validate, the handler, the error table. Errors are {"__type":
// code, "message": ...} with x-amzn-ErrorType; everything unexpected is a
// ServerException (HTTP 500) whose cause is logged and never shown. Every
// response carries x-amzn-RequestId and Date. GET /healthz needs no
// signature; plain handlers that do (the agents' link) are registered with
// HandleAuthenticated. The metrics are served apart, by MetricsHandler.
//
// Identity and permission are one decision the server takes for every
// request on every route, once the signature is verified and before any
// handler runs: Config.Principals says who holds the access key (the
// Account, a container Instance, an LBNode), and the route, where it is
// registered, says which kinds besides the Account may call it
// (JSONService.Permit, QueryService.Permit, RawRoute.Permit). Anyone else
// is answered AccessDeniedException (the query protocol's AccessDenied,
// HTTP 403). Handlers read the principal with CallerPrincipal, to keep an
// instance to its own resources.
//
// A query-protocol service (ELBv2, CloudWatch) is a QueryService: a SigV4
// signing name, an API version, an XML namespace, a table of operations made
// with the generic adapter Query on the types internal/model/gen generates
// for the protocol, and the error table:
//
//	srv.HandleQuery(api.QueryService{
//		SigningName:  elbv2.SigningName, // "elasticloadbalancing"
//		Version:      elbv2.APIVersion,  // "2015-12-01"
//		XMLNamespace: elbv2.XMLNamespace,
//		Operations:   map[string]api.QueryOperation{"CreateLoadBalancer": api.Query(h.CreateLoadBalancer)},
//		MapError:     mapError,
//	})
//
// A request without X-Amz-Target that is a form (POST with Content-Type
// application/x-www-form-urlencoded, or GET with Action= in the URL) goes,
// once some query service is registered, to the one its credential scope
// names; Action= chooses the operation and Version= must be the service's.
// The steps are the JSON protocol's, and every answer is XML: <ActionResponse
// xmlns=...><ActionResult>...</ActionResult><ResponseMetadata><RequestId>...
// on success, <ErrorResponse><Error><Type>Sender|Receiver</Type><Code>...
// <Message>...</Message></Error><RequestId>... on failure, with the query
// services' codes for the protocol layer's own errors (InvalidAction,
// MissingParameter, ValidationError, SignatureDoesNotMatch and
// InvalidClientTokenId with HTTP 403, InternalFailure with HTTP 500).
package api
