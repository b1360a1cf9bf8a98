package ecs_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// loadClient is the benchmarks' load generator: SigV4-signed JSON 1.1
// requests over HTTP/1.1, one keep-alive TCP connection per client
// goroutine, as wrk does. It is lean so that the client's share of the two
// cores stays small: it writes each request with one write and parses the
// answer itself (status line, headers, a Content-Length body) instead of
// going through net/http's Transport and its two goroutines per connection,
// and it signs with benchSigner, which TestBenchSignerMatchesSDK holds to
// aws-sdk-go-v2's signer.
type loadClient struct {
	addr   string // host:port to dial
	host   string // the Host header
	signer *benchSigner
}

func newLoadClient(endpoint string) *loadClient {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" {
		panic(fmt.Sprintf("load client: endpoint %q is not an http:// URL", endpoint))
	}
	return &loadClient{addr: u.Host, host: u.Host, signer: newBenchSigner(benchKey, benchSecret, "us-east-1", "ecs")}
}

// loadConn is one client's connection. It is not safe for concurrent use.
type loadConn struct {
	c    *loadClient
	nc   net.Conn
	r    *bufio.Reader
	req  []byte // the request being written
	body []byte // the last response body
}

func (c *loadClient) dial() (*loadConn, error) {
	nc, err := net.Dial("tcp", c.addr)
	if err != nil {
		return nil, err
	}
	return &loadConn{c: c, nc: nc, r: bufio.NewReaderSize(nc, 16<<10)}, nil
}

func (lc *loadConn) Close() error { return lc.nc.Close() }

// call sends one request and reads its answer; an answer other than 200 is
// an error.
func (lc *loadConn) call(op string, body []byte) error {
	lc.req = lc.c.appendRequest(lc.req[:0], op, body, time.Now())
	if _, err := lc.nc.Write(lc.req); err != nil {
		return err
	}
	status, err := lc.readResponse()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s: %d %s", op, status, lc.body)
	}
	return nil
}

// appendRequest appends the HTTP/1.1 request of op with body, signed.
func (c *loadClient) appendRequest(b []byte, op string, body []byte, now time.Time) []byte {
	b = append(b, "POST / HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: "+ecsTargetPrefix...)
	b = append(b, op...)
	b = append(b, "\r\n"...)
	b = c.signer.appendHeaders(b, c.host, op, body, now)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

const ecsTargetPrefix = "AmazonEC2ContainerServiceV20141113."

// readResponse reads one response, keeping its body in lc.body. It accepts
// only what the server sends: HTTP/1.1 with a Content-Length.
func (lc *loadConn) readResponse() (status int, err error) {
	line, err := lc.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	length := -1
	for {
		line, err := lc.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, fmt.Errorf("malformed header %q", line)
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return 0, fmt.Errorf("malformed header %q", line)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, fmt.Errorf("unsupported header %q", line)
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	if cap(lc.body) < length {
		lc.body = make([]byte, length)
	}
	lc.body = lc.body[:length]
	if _, err := io.ReadFull(lc.r, lc.body); err != nil {
		return 0, err
	}
	return status, nil
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

// benchSigner signs the one request shape loadClient sends (POST / with
// Content-Length, Content-Type, Host, X-Amz-Date and X-Amz-Target, no query)
// with SigV4 as aws-sdk-go-v2's signer does, deriving the day's signing key
// once and hashing in stack buffers.
type benchSigner struct {
	akid, region, service, secret string

	mu         sync.Mutex
	day        string // the date of ipad and opad
	ipad, opad [sha256.BlockSize]byte
}

func newBenchSigner(akid, secret, region, service string) *benchSigner {
	return &benchSigner{akid: akid, secret: secret, region: region, service: service}
}

const benchSignedHeaders = "content-length;content-type;host;x-amz-date;x-amz-target"

// appendHeaders appends the X-Amz-Date and Authorization header lines of a
// request of op with body to host.
func (s *benchSigner) appendHeaders(dst []byte, host, op string, body []byte, now time.Time) []byte {
	var dateBuf [16]byte
	date := now.UTC().AppendFormat(dateBuf[:0], sigv4.TimeFormat)
	ipad, opad := s.keyPads(string(date[:8]))

	bodySum := sha256.Sum256(body)
	var buf [1024]byte
	b := append(buf[:0], "POST\n/\n\ncontent-length:"...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\ncontent-type:application/x-amz-json-1.1\nhost:"...)
	b = append(b, host...)
	b = append(b, "\nx-amz-date:"...)
	b = append(b, date...)
	b = append(b, "\nx-amz-target:"+ecsTargetPrefix...)
	b = append(b, op...)
	b = append(b, "\n\n"+benchSignedHeaders+"\n"...)
	b = hex.AppendEncode(b, bodySum[:])
	creq := sha256.Sum256(b)

	// HMAC-SHA256(kSigning, string to sign), from the prepared pads.
	b = append(buf[:0], ipad[:]...)
	b = append(b, sigv4.Algorithm+"\n"...)
	b = append(b, date...)
	b = append(b, '\n')
	scopeStart := len(b)
	b = append(b, date[:8]...)
	b = append(b, '/')
	b = append(b, s.region...)
	b = append(b, '/')
	b = append(b, s.service...)
	b = append(b, "/aws4_request"...)
	scope := b[scopeStart:]
	b = append(b, '\n')
	b = hex.AppendEncode(b, creq[:])
	inner := sha256.Sum256(b)
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], opad[:])
	copy(outer[sha256.BlockSize:], inner[:])
	sig := sha256.Sum256(outer[:])

	dst = append(dst, "X-Amz-Date: "...)
	dst = append(dst, date...)
	dst = append(dst, "\r\nAuthorization: "+sigv4.Algorithm+" Credential="...)
	dst = append(dst, s.akid...)
	dst = append(dst, '/')
	dst = append(dst, scope...)
	dst = append(dst, ", SignedHeaders="+benchSignedHeaders+", Signature="...)
	dst = hex.AppendEncode(dst, sig[:])
	return append(dst, "\r\n"...)
}

// keyPads returns the HMAC pads of the signing key of day (YYYYMMDD),
// deriving the key when the day changes.
func (s *benchSigner) keyPads(day string) (ipad, opad [sha256.BlockSize]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.day != day {
		mac := func(key []byte, data string) []byte {
			h := hmac.New(sha256.New, key)
			h.Write([]byte(data))
			return h.Sum(nil)
		}
		k := mac(mac(mac(mac([]byte("AWS4"+s.secret), day), s.region), s.service), "aws4_request")
		s.ipad, s.opad = [sha256.BlockSize]byte{}, [sha256.BlockSize]byte{}
		copy(s.ipad[:], k)
		copy(s.opad[:], k)
		for i := range s.ipad {
			s.ipad[i] ^= 0x36
			s.opad[i] ^= 0x5c
		}
		s.day = day
	}
	return s.ipad, s.opad
}

// TestBenchSignerMatchesSDK holds the load generator's requests to
// aws-sdk-go-v2's signer and to net/http's parser.
func TestBenchSignerMatchesSDK(t *testing.T) {
	c := newLoadClient("http://127.0.0.1:34567")
	body := []byte(`{"clusters":["bench"]}`)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, now := range []time.Time{at, at.Add(24 * time.Hour)} {
		raw := c.appendRequest(nil, "DescribeClusters", body, now)
		got, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(got.Body); !bytes.Equal(b, body) {
			t.Errorf("body %q, want %q", b, body)
		}

		want, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:34567/", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		want.Header.Set("Content-Type", "application/x-amz-json-1.1")
		want.Header.Set("X-Amz-Target", ecsTargetPrefix+"DescribeClusters")
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: benchKey, SecretAccessKey: benchSecret}
		if err := v4.NewSigner().SignHTTP(ctx, creds, want, hex.EncodeToString(sum[:]), "ecs", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"Authorization", "X-Amz-Date", "Content-Type", "X-Amz-Target"} {
			if g, w := got.Header.Get(h), want.Header.Get(h); g != w {
				t.Errorf("%s:\n got %s\nwant %s", h, g, w)
			}
		}
		if got.Host != want.Host || got.ContentLength != want.ContentLength {
			t.Errorf("host %s, length %d; want %s, %d", got.Host, got.ContentLength, want.Host, want.ContentLength)
		}
	}
}

// load runs b.N calls from `clients` concurrent clients, each sending its
// next request as soon as the last one is answered (saturation), and reports
// requests/s, latency percentiles and the process's CPU time per request.
func load(b *testing.B, c *loadClient, clients int, op string, body func(client, i int) []byte) {
	b.Helper()
	loadAt(b, c, clients, 0, op, body)
}

// loadAt is load with the clients together offering `rate` requests/s
// (0: as fast as answered). Latency is measured from when a request was due,
// not when it was sent, so a slow answer also counts against the requests
// queued behind it (no coordinated omission). Each client connects and
// makes one request before the measurement starts (a warm server and warm
// connections).
func loadAt(b *testing.B, c *loadClient, clients int, rate float64, op string, body func(client, i int) []byte) {
	b.Helper()
	var interval time.Duration // between one client's requests
	if rate > 0 {
		interval = time.Duration(float64(clients) / rate * float64(time.Second))
	}
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	var ready, done sync.WaitGroup
	begin := make(chan time.Time)
	var failed atomic.Value
	for w := range clients {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			conn, err := c.dial()
			if err == nil {
				defer conn.Close()
				err = conn.call(op, body(w, 0))
			}
			ready.Done()
			start := <-begin
			if err != nil {
				failed.Store(err)
				return
			}
			lat[w] = make([]time.Duration, 0, b.N/clients+1)
			due := start.Add(time.Duration(w) * interval / time.Duration(clients))
			for i := 1; next.Add(1) <= int64(b.N); i++ {
				t0 := time.Now()
				if interval > 0 {
					time.Sleep(time.Until(due))
					t0 = due
					due = due.Add(interval)
				}
				if err := conn.call(op, body(w, i)); err != nil {
					failed.Store(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	ready.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for range clients {
		begin <- start
	}
	done.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
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
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu_µs/op")
}

// cpuTime returns the CPU time this process has used, user and system:
// per request, the cost of client and server together, which other work on
// a shared machine changes less than it changes wall-clock rates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
			load(b, newLoadClient(url), 50, bc.op, func(int, int) []byte { return body })
		})
		b.Run(bc.op+"/10000_per_s", func(b *testing.B) {
			loadAt(b, newLoadClient(url), 50, 10000, bc.op, func(int, int) []byte { return body })
		})
	}
}

// BenchmarkRegisterTaskDefinition measures durable registrations from 50
// concurrent clients, each registering revisions of its own family.
func BenchmarkRegisterTaskDefinition(b *testing.B) {
	url := startServer(b)
	c := newLoadClient(url)
	bodies := make([][]byte, 50)
	for w := range bodies {
		bodies[w] = []byte(fmt.Sprintf(`{"family":"fam%d","containerDefinitions":[{"name":"web","image":"busybox","memory":128,"portMappings":[{"containerPort":80}]}]}`, w))
	}
	load(b, c, 50, "RegisterTaskDefinition", func(w, _ int) []byte { return bodies[w] })
}

// BenchmarkReadHandler measures the server's share of the read requests
// alone: one signed request replayed into the handler, without network or
// client (the rest of BenchmarkReadAPI's cost is net/http, the kernel and
// the client).
func BenchmarkReadHandler(b *testing.B) {
	st, err := bolt.Open(filepath.Join(b.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv := api.NewServer(api.Config{Credentials: sigv4.StaticCredentials{testKey: testSecret},
		Logger: slog.New(slog.DiscardHandler)})
	srv.HandleJSON(ecs.New(ecs.Config{Store: st, Account: flotilla.Account{Region: "us-east-1", ID: account}}).JSONService())
	h := srv.Handler()
	do := func(op, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "http://flotilla.test/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113."+op)
		sum := sha256.Sum256([]byte(body))
		c := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
		if err := v4.NewSigner().SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), "ecs", "us-east-1", time.Now()); err != nil {
			b.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", op, w.Code, w.Body)
		}
		return w
	}
	do("CreateCluster", `{"clusterName":"bench"}`)
	do("RegisterTaskDefinition", `{"family":"web","containerDefinitions":[{"name":"web","image":"busybox","memory":128}]}`)
	for _, bc := range []struct{ op, body string }{
		{"DescribeClusters", `{"clusters":["bench"]}`},
		{"DescribeTaskDefinition", `{"taskDefinition":"web"}`},
	} {
		b.Run(bc.op, func(b *testing.B) {
			body := []byte(bc.body)
			req := httptest.NewRequest(http.MethodPost, "http://flotilla.test/", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113."+bc.op)
			sum := sha256.Sum256(body)
			c := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
			if err := v4.NewSigner().SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), "ecs", "us-east-1", time.Now()); err != nil {
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
		})
	}
}

type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
