package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/model"
)

const (
	akid       = "AKIDEXAMPLE"
	secret     = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	region     = "us-east-1"
	toyPrefix  = "Toy_20260101"
	toySigning = "toy"
)

var credentials = sigv4.StaticCredentials{akid: secret}

// The toy service: one operation per behavior the protocol layer must
// handle.

type echoInput struct {
	Name   *string     `json:"name"`
	Count  *int32      `json:"count"`
	Tags   []string    `json:"tags"`
	At     *model.Time `json:"at"`
	Nested *struct {
		Flag *bool `json:"flag"`
	} `json:"nested"`
}

func (in *echoInput) Validate() error {
	var ve model.ValidationError
	if in.Name == nil {
		ve.Add("name", "is required")
	}
	if in.Count != nil && *in.Count < 0 {
		ve.Add("count", "must be at least 0")
	}
	for i, t := range in.Tags {
		if t == "" {
			ve.Add(model.IndexPath("tags", i), "must not be empty")
		}
	}
	return ve.Err()
}

type echoOutput struct {
	Name        string   `json:"name"`
	Count       int32    `json:"count"`
	Tags        []string `json:"tags,omitempty"`
	RequestID   string   `json:"requestId"`
	AccessKeyID string   `json:"accessKeyId"`
	Region      string   `json:"region"`
}

func echo(ctx context.Context, in *echoInput) (*echoOutput, error) {
	out := &echoOutput{Name: *in.Name, Tags: in.Tags, RequestID: api.RequestID(ctx),
		AccessKeyID: api.AccessKeyID(ctx), Region: api.SigningRegion(ctx)}
	if in.Count != nil {
		out.Count = *in.Count
	}
	return out, nil
}

type empty struct{}

var errThingNotFound = errors.New("toy: thing not found")

// errDiskFull is a store write failing as it does when the disk is full.
var errDiskFull = fmt.Errorf("create thing: %w", fmt.Errorf("txn: commit: %w", &fs.PathError{Op: "write", Path: "/var/lib/flotilla/state.db", Err: syscall.ENOSPC}))

// toyMapError is the toy service's error table.
func toyMapError(err error) *api.Error {
	if errors.Is(err, errThingNotFound) {
		return &api.Error{Code: "ThingNotFoundException", Message: "The thing does not exist."}
	}
	return nil
}

// toyService returns the toy service; with faults it also has operations
// that fail as servers fail (an unmapped error, a panic) and one answering
// an error with a status other than 400.
func toyService(faults bool) api.JSONService {
	ops := map[string]api.Operation{
		"Echo": api.JSON(echo),
		"Nil": api.JSON(func(context.Context, *empty) (*empty, error) {
			return nil, nil
		}),
		"NotFound": api.JSON(func(context.Context, *empty) (*empty, error) {
			return nil, errThingNotFound
		}),
		"Limit": api.JSON(func(context.Context, *empty) (*empty, error) {
			return nil, api.Errorf("LimitExceededException", "Too many things: at most %d.", 10)
		}),
	}
	if faults {
		ops["Wrapped"] = api.JSON(func(context.Context, *empty) (*empty, error) {
			return nil, errors.Join(errors.New("context"), &api.Error{Code: "ConflictException", Message: "Try again.", Status: http.StatusConflict})
		})
		ops["Fail"] = api.JSON(func(context.Context, *empty) (*empty, error) {
			return nil, errors.New("bolt: database file /var/lib/flotilla/state.db is corrupt")
		})
		ops["DiskFull"] = api.JSON(func(context.Context, *empty) (*empty, error) {
			return nil, errDiskFull
		})
		ops["Panic"] = api.JSON(func(context.Context, *empty) (*empty, error) {
			var m map[string]int
			m["boom"]++
			return nil, nil
		})
	}
	return api.JSONService{
		TargetPrefix:        toyPrefix,
		SigningName:         toySigning,
		Operations:          ops,
		ValidationErrorCode: "InvalidParameterException",
		MapError:            toyMapError,
	}
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testServer is a Server with the toy service on a real loopback listener.
type testServer struct {
	*api.Server
	URL string
	// MetricsURL is the URL of /metrics on a listener of its own.
	MetricsURL string
	Logs       *logBuffer
	Reg        *prometheus.Registry
}

func newTestServer(t testing.TB, cfg api.Config) *testServer {
	t.Helper()
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	if cfg.Credentials == nil {
		cfg.Credentials = credentials
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.Registerer = reg
	s := api.NewServer(cfg)
	s.HandleJSON(toyService(true))
	s.HandleQuery(toyELBService()) // JSON requests must route as before
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	ms := httptest.NewServer(s.MetricsHandler())
	t.Cleanup(ms.Close)
	return &testServer{Server: s, URL: hs.URL, MetricsURL: ms.URL + "/metrics", Logs: logs, Reg: reg}
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signed is how a test request is built and signed.
type signed struct {
	target  string
	body    string
	akid    string
	secret  string
	service string
	region  string
	at      time.Time
	chunked bool                // send without Content-Length
	before  func(*http.Request) // before signing
	after   func(*http.Request) // after signing
	sent    string              // body sent instead of the signed one
}

// newRequest builds and signs a request to url with aws-sdk-go-v2's signer.
func newRequest(t testing.TB, url string, s signed) *http.Request {
	t.Helper()
	if s.akid == "" {
		s.akid, s.secret = akid, secret
	}
	if s.service == "" {
		s.service = toySigning
	}
	if s.region == "" {
		s.region = region
	}
	if s.at.IsZero() {
		s.at = time.Now()
	}
	var body io.Reader = strings.NewReader(s.body)
	if s.chunked {
		body = io.MultiReader(strings.NewReader(s.body)) // hides the length
	}
	req, err := http.NewRequest(http.MethodPost, url+"/", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", api.JSONContentType)
	if s.target != "" {
		req.Header.Set("X-Amz-Target", s.target)
	}
	if s.before != nil {
		s.before(req)
	}
	c := aws.Credentials{AccessKeyID: s.akid, SecretAccessKey: s.secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hashHex([]byte(s.body)), s.service, s.region, s.at); err != nil {
		t.Fatal(err)
	}
	if s.after != nil {
		s.after(req)
	}
	if s.sent != "" {
		req.Body = io.NopCloser(strings.NewReader(s.sent))
		if !s.chunked {
			req.ContentLength = int64(len(s.sent))
		}
	}
	return req
}

// do sends req and returns the response with its body read.
func do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}
