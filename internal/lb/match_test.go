package lb

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"/api", "/api", true},
		{"/api", "/api/", false},
		{"/api/*", "/api/", true},
		{"/api/*", "/api/v1/users", true},
		{"/api/*", "/apix", false},
		{"*", "", true},
		{"*", "/anything", true},
		{"/a?c", "/abc", true},
		{"/a?c", "/ac", false},
		{"/a?c", "/abbc", false},
		{"/a?c", "/aéc", true}, // ? is one character, not one byte
		{"*.example.com", "www.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.b.example.com", true},
		{"/img/*.png", "/img/x/y.png", true},
		{"/img/*.png", "/img/x.png.gz", false},
		{"*a*b*c", "xxaxxbxxc", true},
		{"*a*b*c", "xxaxxcxxb", false},
		{"a*b*", "ab", true},
		{"??", "a", false},
		{"/API", "/api", false}, // case matters to globMatch; callers fold
	}
	for _, tt := range tests {
		if got := newGlob(tt.pattern, false).match(tt.s); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestStripPort(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":      "example.com",
		"example.com:8080": "example.com",
		"[::1]:80":         "::1",
		"[::1]":            "::1",
		"::1":              "::1",
		"":                 "",
	} {
		if got := stripPort(in); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConditions checks each condition type against requests, as a unit.
// TestRouting does the same through a real listener.
func TestConditions(t *testing.T) {
	req := func(method, target string, mod func(*http.Request)) *http.Request {
		r := httptest.NewRequest(method, target, nil)
		r.RemoteAddr = "192.0.2.10:40000"
		if mod != nil {
			mod(r)
		}
		return r
	}
	host := func(h string) func(*http.Request) { return func(r *http.Request) { r.Host = h } }
	header := func(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Add(k, v) } }
	peer := func(a string) func(*http.Request) { return func(r *http.Request) { r.RemoteAddr = a } }

	tests := []struct {
		name string
		cond Condition
		r    *http.Request
		want bool
	}{
		{"path exact", Condition{Field: FieldPathPattern, Values: []string{"/login"}}, req("GET", "/login", nil), true},
		{"path ignores query", Condition{Field: FieldPathPattern, Values: []string{"/login"}}, req("GET", "/login?next=/a", nil), true},
		{"path case-sensitive", Condition{Field: FieldPathPattern, Values: []string{"/login"}}, req("GET", "/Login", nil), false},
		{"path star", Condition{Field: FieldPathPattern, Values: []string{"/api/*"}}, req("GET", "/api/v1", nil), true},
		{"path question", Condition{Field: FieldPathPattern, Values: []string{"/v?/x"}}, req("GET", "/v2/x", nil), true},
		{"path any of values", Condition{Field: FieldPathPattern, Values: []string{"/a", "/b"}}, req("GET", "/b", nil), true},
		{"path none of values", Condition{Field: FieldPathPattern, Values: []string{"/a", "/b"}}, req("GET", "/c", nil), false},

		{"host exact", Condition{Field: FieldHostHeader, Values: []string{"example.com"}}, req("GET", "/", host("example.com")), true},
		{"host case-insensitive", Condition{Field: FieldHostHeader, Values: []string{"Example.COM"}}, req("GET", "/", host("EXAMPLE.com")), true},
		{"host without port", Condition{Field: FieldHostHeader, Values: []string{"example.com"}}, req("GET", "/", host("example.com:8080")), true},
		{"host wildcard", Condition{Field: FieldHostHeader, Values: []string{"*.example.com"}}, req("GET", "/", host("api.example.com")), true},
		{"host wildcard needs a label", Condition{Field: FieldHostHeader, Values: []string{"*.example.com"}}, req("GET", "/", host("example.com")), false},
		{"host question", Condition{Field: FieldHostHeader, Values: []string{"api?.example.com"}}, req("GET", "/", host("api2.example.com")), true},

		{"header value", Condition{Field: FieldHTTPHeader, HTTPHeaderName: "X-Env", Values: []string{"canary"}}, req("GET", "/", header("X-Env", "canary")), true},
		{"header name case-insensitive", Condition{Field: FieldHTTPHeader, HTTPHeaderName: "x-env", Values: []string{"canary"}}, req("GET", "/", header("X-ENV", "canary")), true},
		{"header value case-insensitive", Condition{Field: FieldHTTPHeader, HTTPHeaderName: "X-Env", Values: []string{"Canary"}}, req("GET", "/", header("X-Env", "CANARY")), true},
		{"header wildcard", Condition{Field: FieldHTTPHeader, HTTPHeaderName: "User-Agent", Values: []string{"*Mobile*"}}, req("GET", "/", header("User-Agent", "Mozilla/5.0 (iPhone) Mobile Safari")), true},
		{"header absent", Condition{Field: FieldHTTPHeader, HTTPHeaderName: "X-Env", Values: []string{"*"}}, req("GET", "/", nil), false},
		{"header other value", Condition{Field: FieldHTTPHeader, HTTPHeaderName: "X-Env", Values: []string{"canary"}}, req("GET", "/", header("X-Env", "prod")), false},
		{"header any of repeated", Condition{Field: FieldHTTPHeader, HTTPHeaderName: "X-Env", Values: []string{"canary"}}, req("GET", "/", func(r *http.Request) {
			r.Header.Add("X-Env", "prod")
			r.Header.Add("X-Env", "canary")
		}), true},

		{"method", Condition{Field: FieldHTTPRequestMethod, Values: []string{"GET", "HEAD"}}, req("HEAD", "/", nil), true},
		{"method other", Condition{Field: FieldHTTPRequestMethod, Values: []string{"GET"}}, req("POST", "/", nil), false},
		{"method case-sensitive", Condition{Field: FieldHTTPRequestMethod, Values: []string{"get"}}, req("GET", "/", nil), false},

		{"query pair", Condition{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Key: "version", Value: "v2"}}}, req("GET", "/?a=1&version=v2", nil), true},
		{"query pair case-insensitive", Condition{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Key: "Version", Value: "V2"}}}, req("GET", "/?version=v2", nil), true},
		{"query wrong value", Condition{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Key: "version", Value: "v2"}}}, req("GET", "/?version=v1", nil), false},
		{"query value only", Condition{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Value: "beta"}}}, req("GET", "/?channel=beta", nil), true},
		{"query key only", Condition{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Key: "debug"}}}, req("GET", "/?debug=", nil), true},
		{"query key only absent", Condition{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Key: "debug"}}}, req("GET", "/?x=1", nil), false},
		{"query wildcards", Condition{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Key: "utm_*", Value: "mail*"}}}, req("GET", "/?utm_source=mailing", nil), true},
		{"query any of pairs", Condition{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}}, req("GET", "/?b=2", nil), true},
		{"query decoded", Condition{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Key: "q", Value: "a b"}}}, req("GET", "/?q=a%20b", nil), true},
		{"query none", Condition{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Key: "*", Value: "*"}}}, req("GET", "/", nil), false},

		{"source ip in", Condition{Field: FieldSourceIP, Values: []string{"192.0.2.0/24"}}, req("GET", "/", nil), true},
		{"source ip out", Condition{Field: FieldSourceIP, Values: []string{"198.51.100.0/24"}}, req("GET", "/", nil), false},
		{"source ip any of", Condition{Field: FieldSourceIP, Values: []string{"10.0.0.0/8", "192.0.2.10/32"}}, req("GET", "/", nil), true},
		{"source ip ignores x-forwarded-for", Condition{Field: FieldSourceIP, Values: []string{"10.0.0.0/8"}}, req("GET", "/", header("X-Forwarded-For", "10.1.2.3")), false},
		{"source ip v6", Condition{Field: FieldSourceIP, Values: []string{"2001:db8::/32"}}, req("GET", "/", peer("[2001:db8::1]:443")), true},
		{"source ip v4-mapped", Condition{Field: FieldSourceIP, Values: []string{"192.0.2.0/24"}}, req("GET", "/", peer("[::ffff:192.0.2.7]:443")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := compileCondition(tt.cond)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.match(&request{r: tt.r}); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRouting sends real requests through a listener whose rules use every
// condition type, and checks which rule answers each.
func TestRouting(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	web := newBackend(t, "web")
	rules := []Rule{
		{Priority: 10, Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/api/*"}}}, Actions: fixed("200", "api")},
		{Priority: 20, Conditions: []Condition{{Field: FieldHostHeader, Values: []string{"*.admin.example.com"}}}, Actions: fixed("200", "admin")},
		{Priority: 30, Conditions: []Condition{{Field: FieldHTTPHeader, HTTPHeaderName: "x-canary", Values: []string{"yes"}}}, Actions: fixed("200", "canary")},
		{Priority: 40, Conditions: []Condition{{Field: FieldHTTPRequestMethod, Values: []string{"DELETE"}}}, Actions: fixed("405", "no deletes")},
		{Priority: 50, Conditions: []Condition{{Field: FieldQueryString, QueryStringValues: []QueryStringKeyValue{{Key: "lang", Value: "fr"}}}}, Actions: fixed("200", "french")},
		{Priority: 60, Conditions: []Condition{{Field: FieldSourceIP, Values: []string{"10.0.0.0/8"}}}, Actions: fixed("200", "ten")},
		{Priority: 70, Conditions: []Condition{{Field: FieldSourceIP, Values: []string{"127.0.0.0/8"}}, {Field: FieldPathPattern, Values: []string{"/local"}}}, Actions: fixed("200", "local")},
		{Priority: 80, Conditions: []Condition{
			{Field: FieldPathPattern, Values: []string{"/both"}},
			{Field: FieldHTTPHeader, HTTPHeaderName: "X-A", Values: []string{"1"}},
		}, Actions: fixed("200", "both")},
		{Priority: 90, Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/web/*"}}}, Actions: forward(tgARN("web"))},
	}
	mustUpdate(t, s, oneListener(fixed("404", "default"), rules, group("web", web)))
	base := baseURL(t, s, listenerARN)
	c := newClient(t)

	tests := []struct {
		name     string
		method   string
		path     string
		header   http.Header
		wantCode int
		wantBody string
	}{
		{"path", "GET", "/api/users", nil, 200, "api"},
		{"path is case-sensitive", "GET", "/API/users", nil, 404, "default"},
		{"host", "GET", "/", http.Header{"Host": {"eu.Admin.Example.com:8443"}}, 200, "admin"},
		{"header", "GET", "/", http.Header{"X-Canary": {"YES"}}, 200, "canary"},
		{"method", "DELETE", "/", nil, 405, "no deletes"},
		{"query", "GET", "/?lang=FR", nil, 200, "french"},
		{"source ip not matching", "GET", "/?x=1", nil, 404, "default"},
		{"source ip and path", "GET", "/local", nil, 200, "local"},
		{"all conditions", "GET", "/both", http.Header{"X-A": {"1"}}, 200, "both"},
		{"not all conditions", "GET", "/both", nil, 404, "default"},
		{"forward", "GET", "/web/page", nil, 200, "web"},
		{"priority: path beats header", "GET", "/api/x", http.Header{"X-Canary": {"yes"}}, 200, "api"},
		{"default", "GET", "/nothing", nil, 404, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, c, tt.method, base+tt.path, tt.header)
			if resp.code != tt.wantCode || resp.body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.code, resp.body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

// TestPriorities checks that rules are evaluated by ascending priority,
// whatever their order in the configuration.
func TestPriorities(t *testing.T) {
	path := func(p string) []Condition { return []Condition{{Field: FieldPathPattern, Values: []string{p}}} }
	tests := []struct {
		name  string
		rules []Rule
		path  string
		want  string
	}{
		{"lower number first", []Rule{
			{Priority: 5, Conditions: path("/a/*"), Actions: fixed("200", "broad")},
			{Priority: 1, Conditions: path("/a/b"), Actions: fixed("200", "narrow")},
		}, "/a/b", "narrow"},
		{"broad rule shadows", []Rule{
			{Priority: 1, Conditions: path("/a/*"), Actions: fixed("200", "broad")},
			{Priority: 5, Conditions: path("/a/b"), Actions: fixed("200", "narrow")},
		}, "/a/b", "broad"},
		{"falls through to a later rule", []Rule{
			{Priority: 100, Conditions: path("/x"), Actions: fixed("200", "x")},
			{Priority: 50000, Conditions: path("/*"), Actions: fixed("200", "catch-all")},
		}, "/y", "catch-all"},
		{"default when none matches", []Rule{
			{Priority: 3, Conditions: path("/x"), Actions: fixed("200", "x")},
		}, "/y", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{})
			mustUpdate(t, s, oneListener(fixed("200", "default"), tt.rules))
			if resp := get(t, newClient(t), baseURL(t, s, listenerARN)+tt.path); resp.body != tt.want {
				t.Errorf("got %q, want %q", resp.body, tt.want)
			}
		})
	}
}
