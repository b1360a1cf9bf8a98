package elb

import (
	"maps"
	"slices"
	"strconv"

	"github.com/flotilla/flotilla/internal/lb"
)

// Load balancer attributes the service acts on.
const (
	AttrDeletionProtection = "deletion_protection.enabled"
	AttrAccessLogsEnabled  = "access_logs.s3.enabled"
	AttrAccessLogsBucket   = "access_logs.s3.bucket"
	// AttrCrossZone is always on for application load balancers.
	AttrCrossZone = "load_balancing.cross_zone.enabled"
	// AttrIdleTimeout is the attribute the load balancer nodes apply to
	// client connections (lb.LoadBalancer.IdleTimeoutSeconds).
	AttrIdleTimeout = "idle_timeout.timeout_seconds"
)

// loadBalancerAttribute is an attribute of an application load balancer:
// its default and the check of its values.
type loadBalancerAttribute struct {
	def   string
	valid func(v string) bool
}

func isBool(v string) bool { return v == "true" || v == "false" }

func anyValue(string) bool { return true }

func intRange(lo, hi int) func(string) bool {
	return func(v string) bool { n, err := strconv.Atoi(v); return err == nil && n >= lo && n <= hi }
}

func oneOf(values ...string) func(string) bool {
	return func(v string) bool { return slices.Contains(values, v) }
}

// loadBalancerAttributes are the attributes of an application load
// balancer, with ELBv2's defaults and ranges. Only deletion protection
// and the idle timeout take effect; the others are kept and reported.
var loadBalancerAttributes = map[string]loadBalancerAttribute{
	AttrAccessLogsEnabled:                                      {"false", isBool},
	AttrAccessLogsBucket:                                       {"", anyValue},
	"access_logs.s3.prefix":                                    {"", anyValue},
	"connection_logs.s3.enabled":                               {"false", isBool},
	"connection_logs.s3.bucket":                                {"", anyValue},
	"connection_logs.s3.prefix":                                {"", anyValue},
	"client_keep_alive.seconds":                                {"3600", intRange(60, 604800)},
	AttrDeletionProtection:                                     {"false", isBool},
	AttrIdleTimeout:                                            {"60", intRange(1, 4000)},
	AttrCrossZone:                                              {"true", oneOf("true")}, // always on for ALBs
	"routing.http.desync_mitigation_mode":                      {"defensive", oneOf("monitor", "defensive", "strictest")},
	"routing.http.drop_invalid_header_fields.enabled":          {"false", isBool},
	"routing.http.preserve_host_header.enabled":                {"false", isBool},
	"routing.http.x_amzn_tls_version_and_cipher_suite.enabled": {"false", isBool},
	"routing.http.xff_client_port.enabled":                     {"false", isBool},
	"routing.http.xff_header_processing.mode":                  {"append", oneOf("append", "preserve", "remove")},
	"routing.http2.enabled":                                    {"true", isBool},
	"waf.fail_open.enabled":                                    {"false", isBool},
	"zonal_shift.config.enabled":                               {"false", isBool},
}

// CheckLoadBalancerAttribute reports whether k is an attribute of an
// application load balancer and whether v is a value it may have.
func CheckLoadBalancerAttribute(k, v string) (known, valid bool) {
	a, ok := loadBalancerAttributes[k]
	if !ok {
		return false, false
	}
	return true, a.valid(v)
}

// AllAttributes returns every attribute of the load balancer: those set,
// the defaults for the others.
func (r *LoadBalancerRecord) AllAttributes() map[string]string {
	out := make(map[string]string, len(loadBalancerAttributes))
	for k, a := range loadBalancerAttributes {
		out[k] = a.def
	}
	maps.Copy(out, r.Attributes)
	return out
}

// Target group attributes beyond those of package lb, with ELBv2's defaults.
const (
	AttrStickinessEnabled  = "stickiness.enabled"
	AttrStickinessType     = "stickiness.type"
	AttrStickinessDuration = "stickiness.lb_cookie.duration_seconds"
)

// DefaultTargetGroupAttributes returns a new target group's attributes.
func DefaultTargetGroupAttributes() map[string]string {
	return map[string]string{
		lb.AttrDeregistrationDelay: strconv.Itoa(lb.DefaultDeregistrationDelay),
		lb.AttrAlgorithm:           lb.DefaultLoadBalancingAlgorithm,
		lb.AttrSlowStart:           strconv.Itoa(lb.DefaultSlowStart),
		AttrStickinessEnabled:      "false",
		AttrStickinessType:         "lb_cookie",
		AttrStickinessDuration:     "86400",
	}
}

// CheckTargetGroupAttribute reports whether k is an attribute of a target
// group and whether v is a value it may have, by ELBv2's rules.
func CheckTargetGroupAttribute(k, v string) (known, valid bool) {
	intIn := func(lo, hi int) bool { n, err := strconv.Atoi(v); return err == nil && n >= lo && n <= hi }
	switch k {
	case lb.AttrDeregistrationDelay:
		return true, intIn(0, 3600)
	case lb.AttrSlowStart:
		return true, v == "0" || intIn(30, 900)
	case lb.AttrAlgorithm:
		return true, v == lb.AlgorithmRoundRobin || v == lb.AlgorithmLeastOutstanding || v == lb.AlgorithmWeightedRandom
	case AttrStickinessEnabled:
		return true, isBool(v)
	case AttrStickinessType:
		return true, v == "lb_cookie"
	case AttrStickinessDuration:
		return true, intIn(1, 604800)
	}
	return false, false
}
