package lb

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidConfig is wrapped by the errors of Config.Validate and of an
// Update given an invalid Config.
var ErrInvalidConfig = errors.New("invalid load balancer configuration")

// limits are the bounds a Config is validated against that depend on the
// Server's options.
type limits struct {
	minInterval time.Duration // of health checks
}

// elbv2Limits are ELBv2's own.
var elbv2Limits = limits{minInterval: 5 * time.Second}

// ELBv2's ranges.
const (
	maxPriority         = 50000
	maxWeight           = 999
	maxGroupsPerForward = 5
	maxInterval         = 300 * time.Second
	maxTimeout          = 120 * time.Second
	minThreshold        = 2
	maxThreshold        = 10
	maxDeregDelay       = 3600 // seconds
	maxSlowStart        = 900  // seconds
	maxStickiness       = 604800
	maxFixedBody        = 1024
)

// Validate reports every problem of c against ELBv2's rules, joined, each
// naming the resource, all wrapping ErrInvalidConfig; nil when c can be
// applied. A Server validates with its own options (the minimum health check
// interval and whether it can get certificates) in place of ELBv2's.
func (c Config) Validate() error { return c.validate(elbv2Limits) }

func (c Config) validate(lim limits) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	materials := map[string]bool{}
	for _, m := range c.Certificates {
		switch {
		case m.ARN == "":
			fail("certificate: no ARN")
		case materials[m.ARN]:
			fail("certificate %s: given twice", m.ARN)
		}
		materials[m.ARN] = true
	}
	lbs := map[string]LoadBalancer{}
	for _, lb := range c.LoadBalancers {
		switch {
		case lb.ARN == "":
			fail("load balancer %q: no ARN", lb.Name)
		case lbs[lb.ARN].ARN != "":
			fail("load balancer %s: ARN used twice", lb.ARN)
		}
		if lb.IdleTimeoutSeconds < 0 || lb.IdleTimeoutSeconds > 4000 {
			fail("load balancer %s: idle timeout %d s is not from 1 to 4000", lb.ARN, lb.IdleTimeoutSeconds)
		}
		if lb.BindAddress != "" {
			if _, err := netip.ParseAddr(lb.BindAddress); err != nil {
				fail("load balancer %s: bind address %q is not an IP address", lb.ARN, lb.BindAddress)
			}
		}
		lbs[lb.ARN] = lb
	}

	tgs := map[string]bool{}
	for _, tg := range c.TargetGroups {
		if tg.ARN == "" {
			fail("target group %q: no ARN", tg.Name)
			continue
		}
		if tgs[tg.ARN] {
			fail("target group %s: ARN used twice", tg.ARN)
		}
		tgs[tg.ARN] = true
		if _, err := tg.spec(lim); err != nil {
			fail("target group %s: %w", tg.ARN, err)
		}
		if _, err := tg.resolveTargets(); err != nil {
			fail("target group %s: %w", tg.ARN, err)
		}
	}

	listeners := map[string]bool{}
	ports := map[string]string{} // bind address:port → listener ARN
	for _, l := range c.Listeners {
		if l.ARN == "" {
			fail("listener of %s on port %d: no ARN", l.LoadBalancerARN, l.Port)
			continue
		}
		if listeners[l.ARN] {
			fail("listener %s: ARN used twice", l.ARN)
		}
		listeners[l.ARN] = true
		lb, ok := lbs[l.LoadBalancerARN]
		if !ok {
			fail("listener %s: load balancer %q not found", l.ARN, l.LoadBalancerARN)
		}
		if l.Port < 0 || l.Port > math.MaxUint16 {
			fail("listener %s: port %d out of range", l.ARN, l.Port)
		} else if l.Port != 0 {
			key := lb.BindAddress + ":" + strconv.Itoa(l.Port)
			if other, dup := ports[key]; dup {
				fail("listener %s: port %d already used by listener %s", l.ARN, l.Port, other)
			}
			ports[key] = l.ARN
		}
		switch l.Protocol {
		case ProtocolHTTP:
		case ProtocolHTTPS:
			if len(l.Certificates) == 0 {
				fail("listener %s: an HTTPS listener needs a certificate", l.ARN)
			}
			if _, ok := sslPolicyIndex[l.SSLPolicy]; l.SSLPolicy != "" && !ok {
				fail("listener %s: no security policy %q", l.ARN, l.SSLPolicy)
			}
		default:
			fail("listener %s: protocol %q not supported (HTTP or HTTPS)", l.ARN, l.Protocol)
		}
		if err := validateActions(l.DefaultActions, tgs); err != nil {
			fail("listener %s: default actions: %w", l.ARN, err)
		}
	}

	priorities := map[string]map[int]string{} // listener → priority → rule
	rules := map[string]bool{}
	for _, r := range c.Rules {
		if r.ARN == "" {
			fail("rule of %s with priority %d: no ARN", r.ListenerARN, r.Priority)
			continue
		}
		if rules[r.ARN] {
			fail("rule %s: ARN used twice", r.ARN)
		}
		rules[r.ARN] = true
		if !listeners[r.ListenerARN] {
			fail("rule %s: listener %q not found", r.ARN, r.ListenerARN)
		}
		if r.Priority < 1 || r.Priority > maxPriority {
			fail("rule %s: priority %d out of range 1-%d", r.ARN, r.Priority, maxPriority)
		} else {
			byPriority := priorities[r.ListenerARN]
			if byPriority == nil {
				byPriority = map[int]string{}
				priorities[r.ListenerARN] = byPriority
			}
			if other, dup := byPriority[r.Priority]; dup {
				fail("rule %s: priority %d already used by rule %s", r.ARN, r.Priority, other)
			}
			byPriority[r.Priority] = r.ARN
		}
		for i, cond := range r.Conditions {
			if _, err := compileCondition(cond); err != nil {
				fail("rule %s: condition %d: %w", r.ARN, i+1, err)
			}
		}
		if err := validateActions(r.Actions, tgs); err != nil {
			fail("rule %s: %w", r.ARN, err)
		}
	}

	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// terminal returns the action carried out of a list: the one with the lowest
// Order (the first of equals).
func terminal(actions []Action) Action {
	best := actions[0]
	for _, a := range actions[1:] {
		if a.Order < best.Order {
			best = a
		}
	}
	return best
}

func validateActions(actions []Action, tgs map[string]bool) error {
	switch len(actions) {
	case 0:
		return errors.New("no action")
	case 1:
	default:
		return fmt.Errorf("%d actions: only one of forward, redirect or fixed-response is supported", len(actions))
	}
	a := actions[0]
	switch a.Type {
	case ActionForward:
		groups, sticky, err := forwardGroups(a)
		if err != nil {
			return err
		}
		for _, g := range groups {
			if !tgs[g.TargetGroupARN] {
				return fmt.Errorf("forward: target group %q not found", g.TargetGroupARN)
			}
		}
		if sticky != nil && (sticky.DurationSeconds < 0 || sticky.DurationSeconds > maxStickiness) {
			return fmt.Errorf("forward: stickiness duration %d out of range 1-%d", sticky.DurationSeconds, maxStickiness)
		}
	case ActionRedirect:
		if a.RedirectConfig == nil {
			return errors.New("redirect: no redirect config")
		}
		return validateRedirect(*a.RedirectConfig)
	case ActionFixedResponse:
		if a.FixedResponseConfig == nil {
			return errors.New("fixed-response: no fixed response config")
		}
		_, err := fixedStatus(*a.FixedResponseConfig)
		return err
	case "":
		return errors.New("action has no type")
	default:
		return fmt.Errorf("action type %q not supported", a.Type)
	}
	return nil
}

// forwardGroups returns the target groups of a forward action, from either
// form, with their weights, and its stickiness when enabled.
func forwardGroups(a Action) ([]TargetGroupTuple, *TargetGroupStickinessConfig, error) {
	fc := a.ForwardConfig
	if fc == nil {
		if a.TargetGroupARN == "" {
			return nil, nil, errors.New("forward: no target group")
		}
		return []TargetGroupTuple{{TargetGroupARN: a.TargetGroupARN, Weight: 1}}, nil, nil
	}
	if len(fc.TargetGroups) == 0 || len(fc.TargetGroups) > maxGroupsPerForward {
		return nil, nil, fmt.Errorf("forward: %d target groups, want 1-%d", len(fc.TargetGroups), maxGroupsPerForward)
	}
	if a.TargetGroupARN != "" && (len(fc.TargetGroups) != 1 || fc.TargetGroups[0].TargetGroupARN != a.TargetGroupARN) {
		return nil, nil, errors.New("forward: target group ARN and forward config disagree")
	}
	seen := map[string]bool{}
	for _, g := range fc.TargetGroups {
		if g.Weight < 0 || g.Weight > maxWeight {
			return nil, nil, fmt.Errorf("forward: weight %d of %s out of range 0-%d", g.Weight, g.TargetGroupARN, maxWeight)
		}
		if seen[g.TargetGroupARN] {
			return nil, nil, fmt.Errorf("forward: target group %s listed twice", g.TargetGroupARN)
		}
		seen[g.TargetGroupARN] = true
	}
	var sticky *TargetGroupStickinessConfig
	if s := fc.TargetGroupStickinessConfig; s != nil && s.Enabled {
		sticky = s
	}
	return fc.TargetGroups, sticky, nil
}

// Redirect keywords.
const (
	kwProtocol = "#{protocol}"
	kwHost     = "#{host}"
	kwPort     = "#{port}"
	kwPath     = "#{path}"
	kwQuery    = "#{query}"
)

func validateRedirect(rc RedirectConfig) error {
	if _, err := redirectStatus(rc.StatusCode); err != nil {
		return err
	}
	switch strings.ToUpper(rc.Protocol) {
	case "", ProtocolHTTP, ProtocolHTTPS, strings.ToUpper(kwProtocol):
	default:
		return fmt.Errorf("redirect: protocol %q (HTTP, HTTPS or #{protocol})", rc.Protocol)
	}
	if rc.Port != "" && rc.Port != kwPort {
		if p, err := strconv.Atoi(rc.Port); err != nil || p < 1 || p > math.MaxUint16 {
			return fmt.Errorf("redirect: port %q (1-65535 or #{port})", rc.Port)
		}
	}
	if rc.Path != "" && !strings.HasPrefix(rc.Path, "/") {
		return fmt.Errorf("redirect: path %q does not start with /", rc.Path)
	}
	keeps := func(v, def string) bool { return v == "" || v == def }
	if keeps(strings.ToLower(rc.Protocol), kwProtocol) && keeps(rc.Host, kwHost) && keeps(rc.Port, kwPort) &&
		keeps(rc.Path, "/"+kwPath) && keeps(rc.Query, kwQuery) {
		return errors.New("redirect: every component is the request's own: the redirect would loop")
	}
	return nil
}

func redirectStatus(code string) (int, error) {
	switch code {
	case RedirectHTTP301:
		return 301, nil
	case RedirectHTTP302:
		return 302, nil
	}
	return 0, fmt.Errorf("redirect: status code %q (HTTP_301 or HTTP_302)", code)
}

var fixedContentTypes = []string{"", "text/plain", "text/css", "text/html", "application/javascript", "application/json"}

// fixedStatus checks a fixed response and returns its status code.
func fixedStatus(fr FixedResponseConfig) (int, error) {
	code, err := strconv.Atoi(fr.StatusCode)
	if err != nil || len(fr.StatusCode) != 3 || (code/100 != 2 && code/100 != 4 && code/100 != 5) {
		return 0, fmt.Errorf("fixed-response: status code %q (2XX, 4XX or 5XX)", fr.StatusCode)
	}
	if !slices.Contains(fixedContentTypes, fr.ContentType) {
		return 0, fmt.Errorf("fixed-response: content type %q not one of %s", fr.ContentType, strings.Join(fixedContentTypes[1:], ", "))
	}
	if len(fr.MessageBody) > maxFixedBody {
		return 0, fmt.Errorf("fixed-response: message body of %d bytes, more than %d", len(fr.MessageBody), maxFixedBody)
	}
	return code, nil
}

// tgSpec is a target group's configuration resolved: defaults applied,
// attributes parsed. It is comparable, so that an Update can tell what
// changed.
type tgSpec struct {
	scheme     string // of requests to targets: http or https
	health     healthSpec
	algorithm  string
	deregDelay time.Duration
	slowStart  time.Duration
}

// healthSpec is a health check resolved.
type healthSpec struct {
	scheme    string
	port      int // 0: the target's port
	portLabel string
	path      string
	interval  time.Duration
	timeout   time.Duration
	healthy   int // consecutive successes to become healthy
	unhealthy int // consecutive failures to become unhealthy
	codes     codeSet
}

// codeSet is a set of HTTP status codes, as a bitmap.
type codeSet [10]uint64

func (s *codeSet) add(code int) { s[code/64] |= 1 << (code % 64) }
func (s codeSet) contains(code int) bool {
	return code >= 0 && code < 640 && s[code/64]&(1<<(code%64)) != 0
}

// parseMatcher parses a matcher's HttpCode: codes and ranges of ELBv2's
// 200-499, comma-separated.
func parseMatcher(s string) (codeSet, error) {
	var set codeSet
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		from, err1 := strconv.Atoi(lo)
		to, err2 := from, error(nil)
		if isRange {
			to, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || from < 200 || to > 499 || from > to {
			return set, fmt.Errorf("health check matcher %q: want codes or ranges of 200-499 such as 200, 200-299 or 200,302", s)
		}
		for c := from; c <= to; c++ {
			set.add(c)
		}
	}
	return set, nil
}

// seconds converts fractional seconds to a duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (tg TargetGroup) spec(lim limits) (tgSpec, error) {
	var sp tgSpec
	switch tg.Protocol {
	case ProtocolHTTP, ProtocolHTTPS:
		sp.scheme = strings.ToLower(tg.Protocol)
	default:
		return sp, fmt.Errorf("protocol %q not supported (HTTP or HTTPS)", tg.Protocol)
	}
	if tg.Port < 1 || tg.Port > math.MaxUint16 {
		return sp, fmt.Errorf("port %d out of range 1-65535", tg.Port)
	}
	switch tg.TargetType {
	case "", TargetTypeInstance, TargetTypeIP:
	default:
		return sp, fmt.Errorf("target type %q not supported (instance or ip)", tg.TargetType)
	}

	hc := tg.HealthCheck
	h := healthSpec{
		scheme:    sp.scheme,
		portLabel: HealthCheckTrafficPort,
		path:      cmp.Or(hc.Path, DefaultHealthCheckPath),
		interval:  seconds(cmp.Or(hc.IntervalSeconds, DefaultHealthCheckInterval)),
		timeout:   seconds(cmp.Or(hc.TimeoutSeconds, DefaultHealthCheckTimeout)),
		healthy:   cmp.Or(hc.HealthyThresholdCount, DefaultHealthyThresholdCount),
		unhealthy: cmp.Or(hc.UnhealthyThresholdCount, DefaultUnhealthyThresholdCount),
	}
	switch hc.Protocol {
	case "":
	case ProtocolHTTP, ProtocolHTTPS:
		h.scheme = strings.ToLower(hc.Protocol)
	default:
		return sp, fmt.Errorf("health check protocol %q not supported (HTTP or HTTPS)", hc.Protocol)
	}
	if hc.Port != "" && hc.Port != HealthCheckTrafficPort {
		p, err := strconv.Atoi(hc.Port)
		if err != nil || p < 1 || p > math.MaxUint16 {
			return sp, fmt.Errorf("health check port %q (traffic-port or 1-65535)", hc.Port)
		}
		h.port, h.portLabel = p, hc.Port
	}
	if !strings.HasPrefix(h.path, "/") || len(h.path) > 1024 {
		return sp, fmt.Errorf("health check path %q does not start with / or is too long", h.path)
	}
	if h.interval < lim.minInterval || h.interval > maxInterval {
		return sp, fmt.Errorf("health check interval %v out of range %v-%v", h.interval, lim.minInterval, maxInterval)
	}
	if h.timeout <= 0 || h.timeout > maxTimeout {
		return sp, fmt.Errorf("health check timeout %v out of range (0s-%v]", h.timeout, maxTimeout)
	}
	if h.timeout >= h.interval {
		return sp, fmt.Errorf("health check interval %v must be greater than the timeout %v", h.interval, h.timeout)
	}
	if h.healthy < minThreshold || h.healthy > maxThreshold || h.unhealthy < minThreshold || h.unhealthy > maxThreshold {
		return sp, fmt.Errorf("health check thresholds %d healthy, %d unhealthy: out of range %d-%d", h.healthy, h.unhealthy, minThreshold, maxThreshold)
	}
	codes, err := parseMatcher(cmp.Or(hc.Matcher.HTTPCode, DefaultMatcherHTTPCode))
	if err != nil {
		return sp, err
	}
	h.codes = codes
	sp.health = h

	attr := func(key string, def float64, max float64) (float64, error) {
		s, ok := tg.Attributes[key]
		if !ok {
			return def, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v > max || math.IsNaN(v) {
			return 0, fmt.Errorf("attribute %s=%q: want seconds 0-%v", key, s, max)
		}
		return v, nil
	}
	dereg, err := attr(AttrDeregistrationDelay, DefaultDeregistrationDelay, maxDeregDelay)
	if err != nil {
		return sp, err
	}
	slow, err := attr(AttrSlowStart, DefaultSlowStart, maxSlowStart)
	if err != nil {
		return sp, err
	}
	sp.deregDelay, sp.slowStart = seconds(dereg), seconds(slow)
	sp.algorithm = cmp.Or(tg.Attributes[AttrAlgorithm], DefaultLoadBalancingAlgorithm)
	switch sp.algorithm {
	case AlgorithmRoundRobin, AlgorithmWeightedRandom:
	case AlgorithmLeastOutstanding:
		if sp.slowStart > 0 {
			return sp, errors.New("slow start cannot be combined with least_outstanding_requests")
		}
	default:
		return sp, fmt.Errorf("attribute %s=%q: want round_robin, least_outstanding_requests or weighted_random", AttrAlgorithm, sp.algorithm)
	}
	return sp, nil
}

// resolvedTarget is a target with its address and port filled in.
type resolvedTarget struct {
	Target
	key string // identity within the group
}

// resolveTargets fills in the targets' addresses and ports and checks them.
func (tg TargetGroup) resolveTargets() ([]resolvedTarget, error) {
	out := make([]resolvedTarget, 0, len(tg.Targets))
	seen := map[string]bool{}
	for _, t := range tg.Targets {
		if t.ID == "" {
			return nil, errors.New("a target has no ID")
		}
		if t.Address == "" {
			if tg.TargetType != TargetTypeIP {
				return nil, fmt.Errorf("target %s: no address", t.ID)
			}
			t.Address = t.ID
		}
		if t.Port < 0 || t.Port > math.MaxUint16 {
			return nil, fmt.Errorf("target %s: port %d out of range", t.ID, t.Port)
		}
		if t.Port == 0 {
			t.Port = tg.Port
		}
		id := t.ID + ":" + strconv.Itoa(t.Port)
		if seen[id] {
			return nil, fmt.Errorf("target %s registered twice", id)
		}
		seen[id] = true
		out = append(out, resolvedTarget{Target: t, key: id + "@" + t.Address})
	}
	return out, nil
}
