// Package lb is the data plane of Flotilla's Application Load Balancer: the
// listeners, the rule engine, the reverse proxy, the health checker and the
// draining of targets, with the semantics of AWS's ELBv2 (elasticloadbalancingv2)
// for application load balancers.
//
// The package knows nothing of the store or of the ELBv2 API. The control
// plane describes the whole desired state in a Config snapshot and hands it
// to Server.Update whenever anything changes; the Server converges on it
// without dropping a request:
//
//	srv := lb.New(lb.Options{Logger: log, Registerer: reg})
//	if err := srv.Update(cfg); err != nil { ... } // invalid: nothing applied
//	go srv.Run(ctx)                               // graceful shutdown when ctx ends
//	...
//	srv.Health(targetGroupARN)                    // for DescribeTargetHealth
//
// What an Update does:
//
//   - A listener socket is opened for each new listener and closed for each
//     listener that is gone (or whose address, port or protocol changed);
//     connections already accepted on a closed socket finish their requests.
//     A listener that is unchanged keeps its socket; its rules are swapped
//     atomically, and a request keeps the rules it started with.
//   - A target group's runtime state (targets, health, connection pools,
//     counters) is kept by ARN across updates. A target that appears starts
//     in state initial and gets traffic once healthy; a target that
//     disappears is draining: it gets no new requests, and it is gone once it
//     has none in flight or once deregistration_delay.timeout_seconds has
//     passed, whichever comes first (at the deadline the connections still
//     open to it are closed).
//   - A target group that no listener forwards to is not health checked; its
//     targets are unused (Target.NotInUse), as ELBv2 reports them.
//
// Routing follows ELBv2: rules by ascending priority, all conditions of a
// rule must match and any value of a condition may, and the listener's
// default actions when no rule matches. The terminal action of a rule (the
// lowest Order) is forward, redirect or fixed-response. Forwarding picks a
// target group by weight (or by the AWSALBTG cookie when group stickiness is
// on), then a healthy target by the group's algorithm; when no target is
// healthy it fails open over the unhealthy ones (targets in their initial
// checks get nothing while there are), over every registered target when
// none is unhealthy either, and with no target at all it answers 503. Errors of the load balancer itself are ELBv2's: 502
// when a target refuses or breaks the connection, 504 when it cannot be
// reached within the connect timeout, 503 with nothing to send to.
//
// HTTP listeners read simple requests (GET, HEAD, OPTIONS, TRACE with no
// body) with a connection loop of their own and hand a connection to
// net/http's server at its first request of any other kind, malformed ones
// included; HTTPS listeners are net/http's (conn.go). On Linux those
// connections, and their pooled connections to targets, are served by one
// epoll event loop per Go processor, whose thread waits in epoll_wait as
// an nginx worker's does, the connection code running as the loop's
// coroutines (loop_linux.go, Options.EventLoops); GOMAXPROCS is raised to
// one more than the loops, for the rest of the program.
//
// Requests reach targets over pooled keep-alive connections with
// X-Forwarded-For appended to and X-Forwarded-Proto and X-Forwarded-Port set;
// X-Amzn-Trace-Id is added when absent. Bodies are streamed both ways and a
// client that goes away cancels its request to the target.
//
// Where this package goes beyond or differs from ELBv2 (port 0 for tests,
// fractional seconds, one bind address per load balancer instead of an
// elastic network interface) the field's documentation says so.
package lb
