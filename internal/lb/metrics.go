package lb

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sources of a response: the target, or the load balancer itself (its
// errors, redirects and fixed responses), as CloudWatch's HTTPCode_Target_*
// and HTTPCode_ELB_* counts tell them apart.
const (
	sourceTarget = iota
	sourceLB
)

var sourceLabels = [...]string{sourceTarget: "target", sourceLB: "lb"}

// classLabels are the status classes; index = code/100 - 1.
var classLabels = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// metrics are the Prometheus metrics of a Server.
type metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	connections *prometheus.GaugeVec
	targets     *prometheus.GaugeVec
	targetErrs  *prometheus.CounterVec
	drains      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flotilla_lb_requests_total",
			Help: "Requests by load balancer, target group (empty when not forwarded), source of the response (target or lb) and status class.",
		}, []string{"load_balancer", "target_group", "source", "class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flotilla_lb_target_response_seconds",
			Help:    "Time from a request forwarded to its target to the response copied back, by load balancer and target group.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"load_balancer", "target_group"}),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flotilla_lb_active_connections",
			Help: "Client connections open, by load balancer.",
		}, []string{"load_balancer"}),
		targets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flotilla_lb_targets",
			Help: "Targets by target group and state (healthy, unhealthy, initial, draining, unused).",
		}, []string{"target_group", "state"}),
		targetErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flotilla_lb_target_connection_errors_total",
			Help: "Requests that could not be sent to their target or got no response, by target group.",
		}, []string{"target_group"}),
		drains: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flotilla_lb_target_deregistrations_total",
			Help: "Targets that finished draining, by target group and why: no_requests (nothing left in flight) or delay_elapsed (deregistration delay over).",
		}, []string{"target_group", "reason"}),
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	m.connections = register(reg, m.connections)
	m.targets = register(reg, m.targets)
	m.targetErrs = register(reg, m.targetErrs)
	m.drains = register(reg, m.drains)
	return m
}

// register registers c, or returns the collector already registered in its
// place (several servers sharing one registry share their metrics).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// routeMetrics are the metrics of one load balancer and target group pair,
// resolved when the configuration is compiled so that a request costs no
// label lookup.
type routeMetrics struct {
	byClass  [len(sourceLabels)][len(classLabels)]prometheus.Counter
	duration prometheus.Observer // nil when not forwarding
}

func (m *metrics) forRoute(lbARN, tgARN string) *routeMetrics {
	rm := &routeMetrics{}
	for s, source := range sourceLabels {
		for c, class := range classLabels {
			rm.byClass[s][c] = m.requests.WithLabelValues(lbARN, tgARN, source, class)
		}
	}
	if tgARN != "" {
		rm.duration = m.duration.WithLabelValues(lbARN, tgARN)
	}
	return rm
}

// observe counts a response. A request whose client went away before any
// response counts as a 4xx of the load balancer (ELBv2 logs it as 460).
func (rm *routeMetrics) observe(source, code int) {
	c := code/100 - 1
	if c < 0 || c >= len(classLabels) {
		source, c = sourceLB, 3
	}
	rm.byClass[source][c].Inc()
}

func (rm *routeMetrics) observeDuration(d time.Duration) {
	if rm.duration != nil {
		rm.duration.Observe(d.Seconds())
	}
}
