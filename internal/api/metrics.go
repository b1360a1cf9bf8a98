package api

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	// codeOK is the code label of successful requests.
	codeOK = "OK"
	// unknownLabel stands for an unknown service or operation, so that
	// made-up targets cannot grow the label sets.
	unknownLabel = "unknown"
)

// metrics are the request metrics of a Server.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flotilla_api_requests_total",
			Help: "API requests by service, operation and code (OK or the AWS error code).",
		}, []string{"service", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flotilla_api_request_duration_seconds",
			Help:    "API request duration, from the first byte of the headers read to the response written.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"service", "operation"}),
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
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

// opMetrics are the metrics of one operation, resolved once at registration
// so that a successful request costs no label lookup.
type opMetrics struct {
	service, operation string
	m                  *metrics
	ok                 prometheus.Counter
	duration           prometheus.Observer
}

func (m *metrics) forOperation(service, operation string) *opMetrics {
	return &opMetrics{
		service:   service,
		operation: operation,
		m:         m,
		ok:        m.requests.WithLabelValues(service, operation, codeOK),
		duration:  m.duration.WithLabelValues(service, operation),
	}
}

func (o *opMetrics) observe(code string, d time.Duration) {
	if code == codeOK {
		o.ok.Inc()
	} else {
		o.m.requests.WithLabelValues(o.service, o.operation, code).Inc()
	}
	o.duration.Observe(d.Seconds())
}
