package lb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Test ARNs.
const (
	lbARN       = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/test/1"
	listenerARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/test/1/1"
)

func tgARN(name string) string {
	return "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/" + name + "/1"
}

func ruleARN(n int) string {
	return "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener-rule/app/test/1/1/" + strconv.Itoa(n)
}

// newTestServer returns a Server with short health check intervals allowed,
// closed at the end of the test, and its registry.
func newTestServer(t testing.TB, opts Options) (*Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if opts.Registerer == nil {
		opts.Registerer = reg
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testOutput(t), &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if opts.MinHealthCheckInterval == 0 {
		opts.MinHealthCheckInterval = time.Millisecond
	}
	if opts.EventLoops == 0 {
		opts.EventLoops = testEventLoops
	}
	s := New(opts)
	t.Cleanup(s.Close)
	return s, reg
}

// testEventLoops is the Options.EventLoops of the tests' servers:
// FLOTILLA_LB_EVENT_LOOPS=-1 runs them with a goroutine per connection,
// which `make test` does as well as with the event loops.
var testEventLoops = func() int {
	n, _ := strconv.Atoi(os.Getenv("FLOTILLA_LB_EVENT_LOOPS"))
	return n
}()

// testOutput is where a test's logs go: shown with -v or on failure.
func testOutput(t testing.TB) io.Writer {
	if tt, ok := t.(*testing.T); ok {
		return tt.Output()
	}
	return io.Discard
}

// fastHealth is a health check quick enough for tests and lenient enough
// for a loaded machine: a timeout needs three in a row to count.
var fastHealth = HealthCheck{
	Path:                    "/health",
	IntervalSeconds:         0.1,
	TimeoutSeconds:          0.09,
	HealthyThresholdCount:   2,
	UnhealthyThresholdCount: 3,
}

// backend is a target: an httptest server on 127.0.0.1:0 that counts the
// requests it serves, answers /health with a code that can be changed, and
// everything else with its name unless a handler is set.
type backend struct {
	name     string
	srv      *httptest.Server
	requests atomic.Int64 // excluding /health
	probes   atomic.Int64 // /health requests
	health   atomic.Int64 // status code of /health
	slowness atomic.Int64 // how long /health takes to answer, a time.Duration
	mu       sync.Mutex
	handler  http.HandlerFunc
}

func newBackend(t testing.TB, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.health.Store(http.StatusOK)
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		b.probes.Add(1)
		if d := time.Duration(b.slowness.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(int(b.health.Load()))
		return
	}
	b.requests.Add(1)
	b.mu.Lock()
	h := b.handler
	b.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	w.Header().Set("X-Backend", b.name)
	fmt.Fprint(w, b.name)
}

func (b *backend) setHandler(h http.HandlerFunc) {
	b.mu.Lock()
	b.handler = h
	b.mu.Unlock()
}

// target returns b as an instance target.
func (b *backend) target() Target {
	addr := b.srv.Listener.Addr().String()
	host, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	return Target{ID: "i-" + b.name, Address: host, Port: p}
}

// group returns a target group of the backends with the fast health check.
func group(name string, backends ...*backend) TargetGroup {
	tg := TargetGroup{ARN: tgARN(name), Name: name, Protocol: ProtocolHTTP, Port: 80, HealthCheck: fastHealth}
	for _, b := range backends {
		tg.Targets = append(tg.Targets, b.target())
	}
	return tg
}

func forward(tgs ...string) []Action {
	if len(tgs) == 1 {
		return []Action{{Type: ActionForward, TargetGroupARN: tgs[0]}}
	}
	fc := &ForwardConfig{}
	for _, arn := range tgs {
		fc.TargetGroups = append(fc.TargetGroups, TargetGroupTuple{TargetGroupARN: arn, Weight: 1})
	}
	return []Action{{Type: ActionForward, ForwardConfig: fc}}
}

func fixed(code, body string) []Action {
	return []Action{{Type: ActionFixedResponse, FixedResponseConfig: &FixedResponseConfig{StatusCode: code, ContentType: "text/plain", MessageBody: body}}}
}

// oneListener returns a configuration of one load balancer with one HTTP
// listener on any free port.
func oneListener(def []Action, rules []Rule, tgs ...TargetGroup) Config {
	for i := range rules {
		rules[i].ListenerARN = listenerARN
		if rules[i].ARN == "" {
			rules[i].ARN = ruleARN(i + 1)
		}
	}
	return Config{
		LoadBalancers: []LoadBalancer{{ARN: lbARN, Name: "test"}},
		Listeners:     []Listener{{ARN: listenerARN, LoadBalancerARN: lbARN, Port: 0, Protocol: ProtocolHTTP, DefaultActions: def}},
		Rules:         rules,
		TargetGroups:  tgs,
	}
}

// oneHTTPSListener is oneListener with its listener HTTPS, forwarding to
// tg, with the certificates certARNs (the first the default).
func oneHTTPSListener(tg TargetGroup, certARNs ...string) Config {
	cfg := oneListener(forward(tg.ARN), nil, tg)
	cfg.Listeners[0].Protocol = ProtocolHTTPS
	for _, arn := range certARNs {
		cfg.Listeners[0].Certificates = append(cfg.Listeners[0].Certificates, Certificate{ARN: arn})
	}
	return cfg
}

func mustUpdate(t testing.TB, s *Server, cfg Config) {
	t.Helper()
	if err := s.Update(cfg); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// baseURL is the URL of a listener.
func baseURL(t testing.TB, s *Server, arn string) string {
	t.Helper()
	addr := s.Addr(arn)
	if addr == nil {
		t.Fatalf("listener %s has no socket", arn)
	}
	return "http://" + addr.String()
}

// newClient returns a client of its own connections that follows no
// redirects.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type response struct {
	code   int
	body   string
	header http.Header
}

// do sends a request and reads the whole response.
func do(t testing.TB, c *http.Client, method, url string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Add(k, v)
			}
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return response{code: resp.StatusCode, body: string(body), header: resp.Header}
}

func get(t testing.TB, c *http.Client, url string) response {
	t.Helper()
	return do(t, c, http.MethodGet, url, nil)
}

// waitFor polls cond until it holds. The deadline only keeps a broken test
// from hanging; nothing is asserted about how long it took.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// states returns the state of each target of a group by target ID.
func states(s *Server, tg string) map[string]TargetHealth {
	out := map[string]TargetHealth{}
	for _, h := range s.Health(tg) {
		out[h.Target.ID] = h
	}
	return out
}

// waitState waits until every listed target of a group is in state.
func waitState(t testing.TB, s *Server, tg, state string, backends ...*backend) {
	t.Helper()
	waitFor(t, fmt.Sprintf("targets of %s %s", tg, state), func() bool {
		st := states(s, tg)
		for _, b := range backends {
			if st["i-"+b.name].State != state {
				return false
			}
		}
		return true
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// waitInFlight waits until a target of a group has n requests in flight.
func waitInFlight(t testing.TB, s *Server, tg, id string, n int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d requests in flight at %s", n, id), func() bool {
		s.mu.Lock()
		g := s.tgs[tg]
		s.mu.Unlock()
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, tt := range g.targets {
			if tt.ID == id {
				return tt.inflight.Load() == n
			}
		}
		return false
	})
}

// value returns the value of a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
