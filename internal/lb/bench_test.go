package lb

import (
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkProxy measures requests per second through one listener to two
// healthy backends, clients and targets both over keep-alive connections,
// client, load balancer and backends all in this process. "direct" is the
// same clients against one backend with no load balancer, for scale:
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

	b.Run("lb", func(b *testing.B) {
		s, _ := newTestServer(b, Options{Logger: slog.New(slog.DiscardHandler)})
		backends := newBackends(b)
		tg := group("tg", backends...)
		mustUpdate(b, s, oneListener(forward(tg.ARN), nil, tg))
		waitState(b, s, tg.ARN, StateHealthy, backends...)
		load(b, baseURL(b, s, listenerARN)+"/")

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
	})

	b.Run("direct", func(b *testing.B) {
		load(b, newBackends(b)[0].srv.URL+"/")
	})
}

// load sends b.N GET requests to url from 16 clients per CPU and reports
// the requests per second.
func load(b *testing.B, url string) {
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
			resp, err := client.Get(url)
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
