package lb

// Protocols of listeners, target groups and health checks.
const (
	ProtocolHTTP  = "HTTP"
	ProtocolHTTPS = "HTTPS"
)

// Fields of rule conditions.
const (
	FieldPathPattern       = "path-pattern"
	FieldHostHeader        = "host-header"
	FieldHTTPHeader        = "http-header"
	FieldHTTPRequestMethod = "http-request-method"
	FieldQueryString       = "query-string"
	FieldSourceIP          = "source-ip"
)

// Types of actions.
const (
	ActionForward       = "forward"
	ActionRedirect      = "redirect"
	ActionFixedResponse = "fixed-response"
)

// Status codes of redirect actions.
const (
	RedirectHTTP301 = "HTTP_301"
	RedirectHTTP302 = "HTTP_302"
)

// Types of targets.
const (
	TargetTypeInstance = "instance"
	TargetTypeIP       = "ip"
)

// Keys of target group attributes this package acts on. Other keys are
// accepted and ignored.
const (
	AttrDeregistrationDelay = "deregistration_delay.timeout_seconds"
	AttrAlgorithm           = "load_balancing.algorithm.type"
	AttrSlowStart           = "slow_start.duration_seconds"
)

// Values of the load_balancing.algorithm.type attribute.
const (
	AlgorithmRoundRobin       = "round_robin"
	AlgorithmLeastOutstanding = "least_outstanding_requests"
	AlgorithmWeightedRandom   = "weighted_random"
)

// HealthCheckTrafficPort is the health check port that means each target's
// own port.
const HealthCheckTrafficPort = "traffic-port"

// Defaults of a target group, ELBv2's for application load balancers.
const (
	DefaultHealthCheckPath         = "/"
	DefaultHealthCheckInterval     = 30 // seconds
	DefaultHealthCheckTimeout      = 5  // seconds
	DefaultHealthyThresholdCount   = 5
	DefaultUnhealthyThresholdCount = 2
	DefaultMatcherHTTPCode         = "200"
	DefaultDeregistrationDelay     = 300 // seconds
	DefaultSlowStart               = 0   // seconds, off
	DefaultLoadBalancingAlgorithm  = AlgorithmRoundRobin
	DefaultStickinessDuration      = 3600 // seconds
)

// Config is the whole desired state of the data plane: every load balancer
// with its listeners and rules, and every target group with its targets. The
// control plane builds one from its store and hands it to Server.Update.
// References between the parts are by ARN.
type Config struct {
	LoadBalancers []LoadBalancer `json:"loadBalancers,omitempty"`
	Listeners     []Listener     `json:"listeners,omitempty"`
	Rules         []Rule         `json:"rules,omitempty"`
	TargetGroups  []TargetGroup  `json:"targetGroups,omitempty"`
	// Certificates are the material of the certificates HTTPS listeners
	// name, which Options.Certificates need not resolve then.
	Certificates []CertificateMaterial `json:"certificates,omitempty"`
}

// CertificateMaterial is a server certificate with its private key, in
// PEM: what ACM's ImportCertificate was given.
type CertificateMaterial struct {
	ARN string `json:"certificateArn"`
	// CertificatePEM is the certificate, then its chain.
	CertificatePEM string `json:"certificatePem"`
	PrivateKeyPEM  string `json:"privateKeyPem"`
}

// LoadBalancer is an application load balancer.
type LoadBalancer struct {
	ARN  string `json:"arn"`
	Name string `json:"name"`
	// BindAddress is the IP address its listeners bind, where AWS would give
	// each load balancer its own network interfaces; Options.BindAddress
	// when empty. Not part of ELBv2.
	BindAddress string `json:"bindAddress,omitempty"`
	// IdleTimeoutSeconds closes a client connection idle for that long:
	// ELBv2's idle_timeout.timeout_seconds (1 to 4000), and
	// Options.ClientIdleTimeout when 0. A change applies to the
	// connections already open.
	IdleTimeoutSeconds int `json:"idleTimeoutSeconds,omitempty"`
}

// Listener accepts connections on a port of a load balancer.
type Listener struct {
	ARN             string `json:"arn"`
	LoadBalancerARN string `json:"loadBalancerArn"`
	// Port is 1 to 65535; 0, which ELBv2 does not allow, binds any free port
	// (Server.Addr tells which).
	Port     int    `json:"port"`
	Protocol string `json:"protocol"` // HTTP or HTTPS
	// Certificates are the listener's certificates for HTTPS, the default
	// one first; the others are chosen by SNI. Options.Certificates resolves
	// their ARNs.
	Certificates []Certificate `json:"certificates,omitempty"`
	// SSLPolicy names the predefined security policy (SSLPolicies) of an
	// HTTPS listener: its TLS versions and ciphers. Empty is
	// DefaultSSLPolicy.
	SSLPolicy string `json:"sslPolicy,omitempty"`
	// DefaultActions are ELBv2's default rule: what happens when no rule
	// matches.
	DefaultActions []Action `json:"defaultActions"`
}

// Certificate names a server certificate of an HTTPS listener.
type Certificate struct {
	ARN string `json:"certificateArn"`
}

// Rule routes the requests of a listener that match all its conditions.
type Rule struct {
	ARN         string `json:"arn"`
	ListenerARN string `json:"listenerArn"`
	// Priority orders the rules of a listener, lowest first; 1 to 50000 and
	// unique within the listener. The default rule is the listener's
	// DefaultActions, evaluated last.
	Priority   int         `json:"priority"`
	Conditions []Condition `json:"conditions,omitempty"`
	Actions    []Action    `json:"actions"`
}

// Condition is one condition of a rule. A rule matches when all its
// conditions do; a condition matches when any of its values does.
//
//   - path-pattern: Values are patterns of the URL path (without the query),
//     case-sensitive, where * matches any run of characters and ? any one.
//   - host-header: Values are patterns of the host name (without the port),
//     case-insensitive, with the same wildcards.
//   - http-header: HTTPHeaderName names a header (case-insensitive); Values
//     are patterns of its values, case-insensitive, with the wildcards.
//   - http-request-method: Values are methods, compared exactly.
//   - query-string: QueryStringValues are key/value pairs, case-insensitive
//     with the wildcards; a pair with no key matches any key and one with no
//     value any value.
//   - source-ip: Values are CIDR blocks the client's address (the TCP peer,
//     not X-Forwarded-For) must be in.
type Condition struct {
	Field             string                `json:"field"`
	Values            []string              `json:"values,omitempty"`
	HTTPHeaderName    string                `json:"httpHeaderName,omitempty"`
	QueryStringValues []QueryStringKeyValue `json:"queryStringValues,omitempty"`
}

// QueryStringKeyValue is one key/value pair of a query-string condition.
type QueryStringKeyValue struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
}

// Action is what a rule does with a request. Of the actions of a rule, the
// one with the lowest Order is carried out (ELBv2's authentication actions,
// which would come before it, are not supported).
type Action struct {
	Type  string `json:"type"`
	Order int    `json:"order,omitempty"`
	// TargetGroupARN is the short form of a forward to one target group;
	// at most one of it and ForwardConfig is set.
	TargetGroupARN      string               `json:"targetGroupArn,omitempty"`
	ForwardConfig       *ForwardConfig       `json:"forwardConfig,omitempty"`
	RedirectConfig      *RedirectConfig      `json:"redirectConfig,omitempty"`
	FixedResponseConfig *FixedResponseConfig `json:"fixedResponseConfig,omitempty"`
}

// ForwardConfig forwards to one or more weighted target groups.
type ForwardConfig struct {
	TargetGroups                []TargetGroupTuple           `json:"targetGroups"`
	TargetGroupStickinessConfig *TargetGroupStickinessConfig `json:"targetGroupStickinessConfig,omitempty"`
}

// TargetGroupTuple is a target group of a forward and its weight, 0 to 999.
// A group's share of requests is its weight over the sum of the weights;
// when every weight is 0 (as when they were left out) the groups share
// equally.
type TargetGroupTuple struct {
	TargetGroupARN string `json:"targetGroupArn"`
	Weight         int    `json:"weight"`
}

// TargetGroupStickinessConfig binds a client to the target group it was
// first forwarded to, with the AWSALBTG cookie, for DurationSeconds (1 to
// 604800; DefaultStickinessDuration when 0).
type TargetGroupStickinessConfig struct {
	Enabled         bool `json:"enabled"`
	DurationSeconds int  `json:"durationSeconds,omitempty"`
}

// RedirectConfig redirects with a URL built from the components below, each
// of which may use the keywords #{protocol}, #{host}, #{port}, #{path} (the
// request's path without its leading slash) and #{query} (without the "?").
// An empty component keeps the request's: #{protocol}, #{host}, #{port},
// /#{path} and #{query}. At least one component must differ, or the
// redirect would loop.
type RedirectConfig struct {
	Protocol   string `json:"protocol,omitempty"` // HTTP, HTTPS or #{protocol}
	Host       string `json:"host,omitempty"`
	Port       string `json:"port,omitempty"`
	Path       string `json:"path,omitempty"` // starts with "/"
	Query      string `json:"query,omitempty"`
	StatusCode string `json:"statusCode"` // HTTP_301 or HTTP_302
}

// FixedResponseConfig answers the request itself.
type FixedResponseConfig struct {
	StatusCode  string `json:"statusCode"`            // 2XX, 4XX or 5XX
	ContentType string `json:"contentType,omitempty"` // text/plain when empty
	MessageBody string `json:"messageBody,omitempty"` // at most 1024 bytes
}

// TargetGroup is a set of targets with one health check and one algorithm.
type TargetGroup struct {
	ARN      string `json:"arn"`
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol"` // HTTP or HTTPS (targets' certificates are not verified, as ELBv2 does not)
	// Port is the port of targets registered without one.
	Port        int         `json:"port"`
	TargetType  string      `json:"targetType,omitempty"` // instance (when empty) or ip
	HealthCheck HealthCheck `json:"healthCheck"`
	// Attributes are ELBv2's key/value target group attributes; see the
	// Attr constants for those in use and their defaults.
	Attributes map[string]string `json:"attributes,omitempty"`
	Targets    []Target          `json:"targets,omitempty"`
}

// HealthCheck is how the targets of a group are probed: a GET of Path every
// IntervalSeconds, failed when no response came within TimeoutSeconds or its
// status is not in Matcher. Zero fields take ELBv2's defaults.
//
// The seconds are fractional here (ELBv2's are whole), so that tests can
// check every few milliseconds; Options.MinHealthCheckInterval bounds them.
type HealthCheck struct {
	Protocol                string  `json:"protocol,omitempty"` // the group's when empty
	Port                    string  `json:"port,omitempty"`     // "traffic-port" (when empty) or a port number
	Path                    string  `json:"path,omitempty"`
	IntervalSeconds         float64 `json:"intervalSeconds,omitempty"`
	TimeoutSeconds          float64 `json:"timeoutSeconds,omitempty"`
	HealthyThresholdCount   int     `json:"healthyThresholdCount,omitempty"`
	UnhealthyThresholdCount int     `json:"unhealthyThresholdCount,omitempty"`
	Matcher                 Matcher `json:"matcher,omitzero"`
}

// Matcher lists the status codes of a successful health check: one code
// ("200"), a range ("200-299"), or a comma-separated list of either
// ("200,302", "200-204,301").
type Matcher struct {
	HTTPCode string `json:"httpCode,omitempty"`
}

// Target is a registered target of a group.
type Target struct {
	// ID is the instance ID of an instance target, the IP address of an ip
	// target.
	ID string `json:"id"`
	// Address is the host to connect to: the instance's address for an
	// instance target; the ID when empty for an ip target.
	Address string `json:"address,omitempty"`
	// Port is the port to connect to; the group's when 0.
	Port int `json:"port,omitempty"`
}

// States of a target, as DescribeTargetHealth reports them.
const (
	StateInitial     = "initial"
	StateHealthy     = "healthy"
	StateUnhealthy   = "unhealthy"
	StateUnused      = "unused"
	StateDraining    = "draining"
	StateUnavailable = "unavailable"
)

// Reason codes of a target's state, as DescribeTargetHealth reports them.
const (
	ReasonRegistrationInProgress   = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch     = "Target.ResponseCodeMismatch"
	ReasonTimeout                  = "Target.Timeout"
	ReasonFailedHealthChecks       = "Target.FailedHealthChecks"
	ReasonNotRegistered            = "Target.NotRegistered"
	ReasonNotInUse                 = "Target.NotInUse"
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
)

// TargetHealth is the health of one target of a group, DescribeTargetHealth's
// TargetHealthDescription. A target that is not registered with the group is
// not listed; the API reports it as unused with ReasonNotRegistered.
type TargetHealth struct {
	Target          Target `json:"target"` // Address and Port resolved
	HealthCheckPort string `json:"healthCheckPort"`
	State           string `json:"state"`
	Reason          string `json:"reason,omitempty"`
	Description     string `json:"description,omitempty"`
}
