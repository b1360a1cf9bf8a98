package ecs_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// signedClient sends SigV4-signed JSON 1.1 requests with aws-sdk-go-v2's
// signer over a pooled HTTP client: a lean load generator, so that the
// client's share of the two cores stays small.
type signedClient struct {
	url    string
	http   *http.Client
	signer *v4.Signer
	creds  aws.Credentials
}

func newSignedClient(url string, conns int) *signedClient {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute}
	return &signedClient{url: url, http: &http.Client{Transport: tr}, signer: v4.NewSigner(),
		creds: aws.Credentials{AccessKeyID: benchKey, SecretAccessKey: benchSecret}}
}

// benchServer returns the URL of the server to measure: an external one when
// FLOTILLA_BENCH_ENDPOINT is set, otherwise one started in this process.
func benchServer(b *testing.B) string {
	if ep := os.Getenv("FLOTILLA_BENCH_ENDPOINT"); ep != "" {
		benchKey, benchSecret = os.Getenv("FLOTILLA_BENCH_KEY"), os.Getenv("FLOTILLA_BENCH_SECRET")
		return ep
	}
	return startServer(b)
}

var benchKey, benchSecret = testKey, testSecret

func (c *signedClient) call(op string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, c.url+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113."+op)
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), "ecs", "us-east-1", time.Now()); err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %s", op, resp.StatusCode, b)
	}
	return nil
}

// load runs b.N calls from `clients` concurrent clients, each sending its
// next request as soon as the last one is answered (saturation), and reports
// requests/s and latency percentiles.
func load(b *testing.B, c *signedClient, clients int, op string, body func(client, i int) []byte) {
	b.Helper()
	loadAt(b, c, clients, 0, op, body)
}

// loadAt is load with the clients together offering `rate` requests/s
// (0: as fast as answered). Latency is measured from when a request was due,
// not when it was sent, so a slow answer also counts against the requests
// queued behind it (no coordinated omission).
func loadAt(b *testing.B, c *signedClient, clients int, rate float64, op string, body func(client, i int) []byte) {
	b.Helper()
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var interval time.Duration
			if rate > 0 {
				interval = time.Duration(float64(clients) / rate * float64(time.Second))
			}
			due := time.Now().Add(time.Duration(w) * interval / time.Duration(clients))
			for i := 0; ; i++ {
				if next.Add(1) > int64(b.N) {
					return
				}
				t0 := time.Now()
				if interval > 0 {
					time.Sleep(time.Until(due))
					t0 = due
					due = due.Add(interval)
				}
				if err := c.call(op, body(w, i)); err != nil {
					failed.Store(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(float64(len(all))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
}

// BenchmarkReadAPI measures warm DescribeClusters and DescribeTaskDefinition
// over loopback HTTP with signature verification, 50 concurrent clients.
//
// With FLOTILLA_BENCH_ENDPOINT, FLOTILLA_BENCH_KEY and FLOTILLA_BENCH_SECRET
// set, it measures a separately running `flotilla server` instead (the
// deployment's shape: server and clients in their own processes).
func BenchmarkReadAPI(b *testing.B) {
	url := benchServer(b)
	sc := sdkClient(url)
	must(sc.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("bench")}))(b)
	must(sc.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"),
		ContainerDefinitions: []types.ContainerDefinition{container("web", 128)}}))(b)
	for _, bc := range []struct{ op, body string }{
		{"DescribeClusters", `{"clusters":["bench"]}`},
		{"DescribeTaskDefinition", `{"taskDefinition":"web"}`},
	} {
		body := []byte(bc.body)
		b.Run(bc.op+"/saturate", func(b *testing.B) {
			load(b, newSignedClient(url, 50), 50, bc.op, func(int, int) []byte { return body })
		})
		b.Run(bc.op+"/10000_per_s", func(b *testing.B) {
			loadAt(b, newSignedClient(url, 50), 50, 10000, bc.op, func(int, int) []byte { return body })
		})
	}
}

// BenchmarkRegisterTaskDefinition measures durable registrations from 50
// concurrent clients, each registering revisions of its own family.
func BenchmarkRegisterTaskDefinition(b *testing.B) {
	url := startServer(b)
	c := newSignedClient(url, 50)
	bodies := make([][]byte, 50)
	for w := range bodies {
		bodies[w] = []byte(fmt.Sprintf(`{"family":"fam%d","containerDefinitions":[{"name":"web","image":"busybox","memory":128,"portMappings":[{"containerPort":80}]}]}`, w))
	}
	load(b, c, 50, "RegisterTaskDefinition", func(w, _ int) []byte { return bodies[w] })
}
