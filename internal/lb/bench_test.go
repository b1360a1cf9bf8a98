package lb

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkProxy measures requests per second through one listener to two
// healthy backends, clients and targets both over keep-alive connections,
// client, load balancer and backends all in this process. "lb" sends GETs,
// which take the short way past ReverseProxy; "lb-post" sends POSTs with a
// small body, which go through ReverseProxy and http.Transport; "direct" is
// the GETs against one backend with no load balancer, for scale. The
// load test against nginx is loadtest/lbbench (docs/performance.md).
//
//	go test -run '^$' -bench Proxy -benchtime 100000x ./internal/lb/
func BenchmarkProxy(b *testing.B) {
	body := []byte("hello from the backend\n")
	newBackends := func(b *testing.B) []*backend {
		var backends []*backend
		for _, name := range []string{"a", "b"} {
			be := newBackend(b, name)
			be.setHandler(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
			backends = append(backends, be)
		}
		return backends
	}

	b.Run("lb", func(b *testing.B) { benchLB(b, newBackends(b), http.MethodGet) })
	b.Run("lb-post", func(b *testing.B) { benchLB(b, newBackends(b), http.MethodPost) })
	b.Run("direct", func(b *testing.B) {
		load(b, http.MethodGet, newBackends(b)[0].srv.URL+"/")
	})
}

// benchLB loads a listener forwarding to a group of the backends.
func benchLB(b *testing.B, backends []*backend, method string) {
	s, _ := newTestServer(b, Options{Logger: slog.New(slog.DiscardHandler)})
	tg := group("tg", backends...)
	mustUpdate(b, s, oneListener(forward(tg.ARN), nil, tg))
	waitState(b, s, tg.ARN, StateHealthy, backends...)
	load(b, method, baseURL(b, s, listenerARN)+"/")

	served := backends[0].requests.Load() + backends[1].requests.Load()
	if served < int64(b.N) {
		b.Errorf("backends served %d of %d requests", served, b.N)
	}
	// Connections the load balancer keeps to its targets: as many as
	// requests were ever in flight at once, not one per request.
	s.mu.Lock()
	g := s.tgs[tg.ARN]
	s.mu.Unlock()
	var conns int
	for _, t := range g.pool.Load().registered {
		t.conns.mu.Lock()
		conns += len(t.conns.conns)
		t.conns.mu.Unlock()
	}
	b.ReportMetric(float64(conns), "target-conns")
}

// load sends b.N requests to url from 16 clients per CPU, a POST with a
// 5-byte body or a GET, and reports the requests per second.
func load(b *testing.B, method, url string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var failed atomic.Bool
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var body io.Reader
			if method == http.MethodPost {
				body = strings.NewReader("hello")
			}
			req, err := http.NewRequest(method, url, body)
			if err != nil {
				b.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				if !failed.Swap(true) {
					b.Error(err)
				}
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 && !failed.Swap(true) {
				b.Errorf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.StopTimer()
}
