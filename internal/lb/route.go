package lb

import (
	"cmp"
	"crypto/tls"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// table is a listener's rules compiled: what its requests are matched
// against. A table is never modified; an Update swaps in a new one.
type table struct {
	rules []compiledRule // by ascending priority
	def   *action
	certs []*tls.Certificate // HTTPS: the default first
	tls   *tls.Config        // HTTPS: certs under the listener's policy
	// idleTimeout closes client connections idle for that long.
	idleTimeout time.Duration
}

type compiledRule struct {
	conds []matcher
	act   *action
}

// route returns the action for r: that of the first rule all of whose
// conditions match, or the default.
func (t *table) route(r *http.Request) *action {
	if len(t.rules) == 0 {
		return t.def
	}
	q := request{r: r}
next:
	for i := range t.rules {
		for _, c := range t.rules[i].conds {
			if !c.match(&q) {
				continue next
			}
		}
		return t.rules[i].act
	}
	return t.def
}

// action is an action compiled.
type action struct {
	kind    string
	metrics *routeMetrics // of responses the load balancer makes itself

	forward  forwardAction
	redirect RedirectConfig
	status   int // of a redirect or a fixed response
	fixed    FixedResponseConfig
}

type forwardAction struct {
	groups []weightedGroup
	total  int // sum of the weights
	sticky bool
	maxAge int // of the stickiness cookie, in seconds
}

type weightedGroup struct {
	tg      *targetGroup
	weight  int
	cookie  string // value of the stickiness cookie naming the group
	metrics *routeMetrics
}

// stickyCookie is ELBv2's cookie binding a client to a target group.
const stickyCookie = "AWSALBTG"

// pick returns the target group of a request: the one its stickiness
// cookie names, if any still takes requests, or one drawn by weight.
func (f *forwardAction) pick(r *http.Request) *weightedGroup {
	if len(f.groups) == 1 {
		return &f.groups[0]
	}
	if f.sticky {
		if c, err := r.Cookie(stickyCookie); err == nil {
			for i := range f.groups {
				if g := &f.groups[i]; g.cookie == c.Value && g.weight > 0 {
					return g
				}
			}
		}
	}
	x := rand.IntN(f.total)
	for i := range f.groups {
		if x -= f.groups[i].weight; x < 0 {
			return &f.groups[i]
		}
	}
	return &f.groups[len(f.groups)-1]
}

// compileTable compiles a validated listener and its rules.
func compileTable(l Listener, rules []Rule, tgs map[string]*targetGroup, m *metrics) *table {
	t := &table{def: compileAction(terminal(l.DefaultActions), l.LoadBalancerARN, tgs, m)}
	slices.SortFunc(rules, func(a, b Rule) int { return cmp.Compare(a.Priority, b.Priority) })
	for _, r := range rules {
		cr := compiledRule{act: compileAction(terminal(r.Actions), l.LoadBalancerARN, tgs, m)}
		for _, c := range r.Conditions {
			mt, _ := compileCondition(c) // validated
			cr.conds = append(cr.conds, mt)
		}
		t.rules = append(t.rules, cr)
	}
	return t
}

func compileAction(a Action, lbARN string, tgs map[string]*targetGroup, m *metrics) *action {
	ca := &action{kind: a.Type, metrics: m.forRoute(lbARN, "")}
	switch a.Type {
	case ActionForward:
		groups, sticky, _ := forwardGroups(a) // validated
		allZero := !slices.ContainsFunc(groups, func(g TargetGroupTuple) bool { return g.Weight > 0 })
		for _, g := range groups {
			w := g.Weight
			if allZero || len(groups) == 1 {
				w = 1
			}
			ca.forward.groups = append(ca.forward.groups, weightedGroup{
				tg:      tgs[g.TargetGroupARN],
				weight:  w,
				cookie:  groupCookie(g.TargetGroupARN),
				metrics: m.forRoute(lbARN, g.TargetGroupARN),
			})
			ca.forward.total += w
		}
		if sticky != nil {
			ca.forward.sticky = true
			ca.forward.maxAge = cmp.Or(sticky.DurationSeconds, DefaultStickinessDuration)
		}
	case ActionRedirect:
		ca.redirect = *a.RedirectConfig
		ca.status, _ = redirectStatus(ca.redirect.StatusCode)
	case ActionFixedResponse:
		ca.fixed = *a.FixedResponseConfig
		ca.status, _ = fixedStatus(ca.fixed)
		ca.fixed.ContentType = cmp.Or(ca.fixed.ContentType, "text/plain")
	}
	return ca
}

// groupCookie is the stickiness cookie's value for a target group: opaque,
// stable across updates.
func groupCookie(arn string) string {
	h := fnv.New64a()
	h.Write([]byte(arn))
	return strconv.FormatUint(h.Sum64(), 36)
}

// redirectVars are the values of the redirect keywords for one request.
type redirectVars struct {
	protocol string // http or https
	host     string // without the port
	port     string
	path     string // without the leading slash, escaped
	query    string // without the "?"
}

// location builds the URL a redirect sends the client to.
func (rc RedirectConfig) location(v redirectVars) string {
	rep := strings.NewReplacer(kwProtocol, v.protocol, kwHost, v.host, kwPort, v.port, kwPath, v.path, kwQuery, v.query)
	expand := func(s, def string) string { return rep.Replace(cmp.Or(s, def)) }
	proto := strings.ToLower(expand(rc.Protocol, kwProtocol))
	host := expand(rc.Host, kwHost)
	port := expand(rc.Port, kwPort)
	path := expand(rc.Path, "/"+kwPath)
	query := expand(rc.Query, kwQuery)

	var b strings.Builder
	b.WriteString(proto)
	b.WriteString("://")
	if strings.Contains(host, ":") {
		b.WriteString("[" + host + "]") // an IPv6 literal
	} else {
		b.WriteString(host)
	}
	if !(proto == "http" && port == "80") && !(proto == "https" && port == "443") && port != "" {
		b.WriteString(":" + port)
	}
	b.WriteString(path)
	if query != "" {
		b.WriteString("?" + query)
	}
	return b.String()
}
