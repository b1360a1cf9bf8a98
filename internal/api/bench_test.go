package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/flotilla/flotilla/internal/api"
)

// BenchmarkRoundTrip measures full signed round trips over loopback, client
// and server in this process: signing, HTTP, SigV4 verification, routing,
// JSON decoding and encoding, logging (disabled level) and metrics.
//
//	go test -run '^$' -bench RoundTrip -cpu 2 ./internal/api/
func BenchmarkRoundTrip(b *testing.B) {
	s := api.NewServer(api.Config{Credentials: credentials, Logger: slog.New(slog.DiscardHandler)})
	s.HandleJSON(toyService(false))
	s.HandleJSON(toyECS())
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	transport := &http.Transport{MaxIdleConnsPerHost: 256}
	defer transport.CloseIdleConnections()

	b.Run("signer+net/http", func(b *testing.B) {
		client := &http.Client{Transport: transport}
		signer := v4.NewSigner()
		c := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
		body := []byte(`{"name":"bench","count":3,"tags":["a","b"]}`)
		payloadHash := hashHex(body)
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, err := http.NewRequest(http.MethodPost, hs.URL+"/", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", api.JSONContentType)
				req.Header.Set("X-Amz-Target", toyPrefix+".Echo")
				if err := signer.SignHTTP(context.Background(), c, req, payloadHash, toySigning, region, time.Now()); err != nil {
					b.Fatal(err)
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
	})

	b.Run("aws-sdk-go-v2/ecs", func(b *testing.B) {
		client := ecs.New(ecs.Options{
			Region:       region,
			BaseEndpoint: aws.String(hs.URL),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, nil
			}),
			HTTPClient: &http.Client{Transport: transport},
		})
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if _, err := client.ListClusters(ctx, &ecs.ListClustersInput{MaxResults: aws.Int32(10)}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
	})
}

// BenchmarkServeHTTP measures the server's share of a request alone: one
// pre-signed request replayed into the handler, without network or client.
func BenchmarkServeHTTP(b *testing.B) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := api.NewServer(api.Config{Credentials: credentials, Logger: slog.New(slog.DiscardHandler),
		Clock: func() time.Time { return now }})
	s.HandleJSON(toyService(false))
	h := s.Handler()
	body := []byte(`{"name":"bench","count":3,"tags":["a","b"]}`)
	req := httptest.NewRequest(http.MethodPost, "http://flotilla.test/", bytes.NewReader(body))
	req.Header.Set("Content-Type", api.JSONContentType)
	req.Header.Set("X-Amz-Target", toyPrefix+".Echo")
	c := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hashHex(body), toySigning, region, now); err != nil {
		b.Fatal(err)
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		req.Body = io.NopCloser(bytes.NewReader(body))
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
