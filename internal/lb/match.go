package lb

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"
)

// glob is a pattern with ELBv2's wildcards: * matches any run of characters
// (none included) and ? exactly one.
type glob struct {
	pattern string
	literal bool // no wildcard: plain comparison
}

func newGlob(pattern string, foldCase bool) glob {
	if foldCase {
		pattern = strings.ToLower(pattern)
	}
	return glob{pattern: pattern, literal: !strings.ContainsAny(pattern, "*?")}
}

func (g glob) match(s string) bool {
	if g.literal {
		return g.pattern == s
	}
	return globMatch(g.pattern, s)
}

// globMatch reports whether s matches pattern, in time linear in their
// lengths times the number of stars. A ? consumes one rune, not one byte.
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	// Where to resume after a mismatch: the last star, and the position in
	// s it will have consumed one more rune than before.
	starPx, starSx := -1, 0
	for px < len(pattern) || sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, n := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += n
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if starPx >= 0 && starSx < len(s) {
			_, n := utf8.DecodeRuneInString(s[starSx:])
			starSx += n
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}

func anyMatch(globs []glob, s string) bool {
	for _, g := range globs {
		if g.match(s) {
			return true
		}
	}
	return false
}

// request is the view of a request the conditions match, with the parts
// that cost something to compute computed once, when first asked for.
type request struct {
	r *http.Request

	host      string
	hostDone  bool
	query     url.Values
	queryDone bool
	peer      netip.Addr
	peerDone  bool
}

// hostName is the Host header without its port, lowercased.
func (q *request) hostName() string {
	if !q.hostDone {
		q.host, q.hostDone = strings.ToLower(stripPort(q.r.Host)), true
	}
	return q.host
}

// queryValues is the parsed query; a malformed pair is left out.
func (q *request) queryValues() url.Values {
	if !q.queryDone {
		q.query, _ = url.ParseQuery(q.r.URL.RawQuery)
		q.queryDone = true
	}
	return q.query
}

// peerAddr is the client's address: the TCP peer.
func (q *request) peerAddr() netip.Addr {
	if !q.peerDone {
		if ap, err := netip.ParseAddrPort(q.r.RemoteAddr); err == nil {
			q.peer = ap.Addr().Unmap()
		}
		q.peerDone = true
	}
	return q.peer
}

// stripPort removes the port, if any, from a Host header.
func stripPort(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return host[1:i]
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[:i], ':') < 0 {
		return host[:i]
	}
	return host
}

// matcher is a compiled condition.
type matcher interface {
	match(q *request) bool
}

type pathMatcher []glob

func (m pathMatcher) match(q *request) bool { return anyMatch(m, q.r.URL.Path) }

type hostMatcher []glob

func (m hostMatcher) match(q *request) bool { return anyMatch(m, q.hostName()) }

type headerMatcher struct {
	name  string // canonical
	globs []glob
}

func (m headerMatcher) match(q *request) bool {
	if m.name == "Host" {
		return anyMatch(m.globs, strings.ToLower(q.r.Host))
	}
	for _, v := range q.r.Header[m.name] {
		if anyMatch(m.globs, strings.ToLower(v)) {
			return true
		}
	}
	return false
}

type methodMatcher []string

func (m methodMatcher) match(q *request) bool {
	for _, method := range m {
		if q.r.Method == method {
			return true
		}
	}
	return false
}

type queryPair struct {
	key, value       glob
	anyKey, anyValue bool
}

type queryMatcher []queryPair

func (m queryMatcher) match(q *request) bool {
	if q.r.URL.RawQuery == "" {
		return false
	}
	for key, values := range q.queryValues() {
		key = strings.ToLower(key)
		for _, p := range m {
			if !p.anyKey && !p.key.match(key) {
				continue
			}
			if p.anyValue {
				return true
			}
			for _, v := range values {
				if p.value.match(strings.ToLower(v)) {
					return true
				}
			}
		}
	}
	return false
}

type sourceIPMatcher []netip.Prefix

func (m sourceIPMatcher) match(q *request) bool {
	addr := q.peerAddr()
	if !addr.IsValid() {
		return false
	}
	for _, p := range m {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// compileCondition checks c and returns its matcher.
func compileCondition(c Condition) (matcher, error) {
	globs := func(foldCase bool) ([]glob, error) {
		if len(c.Values) == 0 {
			return nil, fmt.Errorf("%s condition has no values", c.Field)
		}
		gs := make([]glob, len(c.Values))
		for i, v := range c.Values {
			if v == "" {
				return nil, fmt.Errorf("%s condition has an empty value", c.Field)
			}
			gs[i] = newGlob(v, foldCase)
		}
		return gs, nil
	}
	switch c.Field {
	case FieldPathPattern:
		gs, err := globs(false)
		return pathMatcher(gs), err
	case FieldHostHeader:
		gs, err := globs(true)
		return hostMatcher(gs), err
	case FieldHTTPHeader:
		if c.HTTPHeaderName == "" {
			return nil, fmt.Errorf("http-header condition has no header name")
		}
		gs, err := globs(true)
		return headerMatcher{name: http.CanonicalHeaderKey(c.HTTPHeaderName), globs: gs}, err
	case FieldHTTPRequestMethod:
		if len(c.Values) == 0 {
			return nil, fmt.Errorf("http-request-method condition has no values")
		}
		for _, v := range c.Values {
			if v == "" || strings.ContainsAny(v, "*?") {
				return nil, fmt.Errorf("http-request-method condition: invalid method %q", v)
			}
		}
		return methodMatcher(c.Values), nil
	case FieldQueryString:
		if len(c.QueryStringValues) == 0 {
			return nil, fmt.Errorf("query-string condition has no key/value pairs")
		}
		m := make(queryMatcher, len(c.QueryStringValues))
		for i, kv := range c.QueryStringValues {
			if kv.Key == "" && kv.Value == "" {
				return nil, fmt.Errorf("query-string condition: pair %d has neither key nor value", i+1)
			}
			m[i] = queryPair{
				key: newGlob(kv.Key, true), anyKey: kv.Key == "" || kv.Key == "*",
				value: newGlob(kv.Value, true), anyValue: kv.Value == "" || kv.Value == "*",
			}
		}
		return m, nil
	case FieldSourceIP:
		if len(c.Values) == 0 {
			return nil, fmt.Errorf("source-ip condition has no values")
		}
		m := make(sourceIPMatcher, len(c.Values))
		for i, v := range c.Values {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return nil, fmt.Errorf("source-ip condition: %q is not a CIDR block", v)
			}
			m[i] = p.Masked()
		}
		return m, nil
	case "":
		return nil, fmt.Errorf("condition has no field")
	default:
		return nil, fmt.Errorf("condition field %q not supported", c.Field)
	}
}
