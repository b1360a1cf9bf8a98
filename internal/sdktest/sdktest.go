// Package sdktest holds what the tests' AWS SDK clients share.
package sdktest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region of the tests' API servers and clients.
const Region = "us-east-1"

// Config returns the configuration of a test's SDK client (for a
// service's NewFromConfig): the API server at endpoint, in Region, signed
// with key and secret, and no retries, so that the test sees every
// failure, with HTTPClient's client, which the SDK's retries would
// otherwise cover for.
func Config(endpoint, key, secret string) aws.Config {
	return aws.Config{
		Region:           Region,
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       HTTPClient(),
	}
}

// Must returns v, and panics, failing the test with the stack of the
// call, when err is set: for calls whose success is not what is tested.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return v
}

// HTTPClient returns an HTTP client for the SDK's clients in tests: the
// SDK's own, less a race between the SDK and net/http
// (aws/aws-sdk-go-v2#2737) that failed one call in a few hundred whose
// response is more than a few KiB, under the race detector, with
// "failed to decode response body ... use of closed network connection".
//
// smithy-go closes the request body as soon as the response head has
// come, while net/http may still be reading that body: it writes the
// head first, then the body straight to the socket, and only then reads
// the body once more to make sure it has ended. When the server has
// answered by then, the read fails, and net/http closes the connection
// the response body is still being read from. The SDK's default retryer
// retries such calls (on a new connection, the operation run twice);
// tests that turn retries off see the error. With the body handed to
// net/http as an in-memory reader of its own, net/http sends head and
// body in one write after reading the body to its end, so the server
// cannot answer first.
func HTTPClient() *http.Client {
	return &http.Client{Transport: ownBody{http.DefaultTransport.(*http.Transport).Clone()}}
}

type ownBody struct{ rt http.RoundTripper }

func (o ownBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return o.rt.RoundTrip(r)
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return o.rt.RoundTrip(r)
}

// Recorder is an http.RoundTripper that keeps the body of the last
// response, for golden tests of whole responses made through an SDK.
type Recorder struct {
	// Transport makes the requests; HTTPClient's when nil.
	Transport http.RoundTripper

	mu   sync.Mutex
	last []byte
}

// RoundTrip makes the request and records the response's body.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := r.Transport
	if rt == nil {
		rt = HTTPClient().Transport
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	r.mu.Lock()
	r.last = b
	r.mu.Unlock()
	return resp, nil
}

// Last returns the body of the last response.
func (r *Recorder) Last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}
