package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/flotilla/flotilla/internal/api"
)

// FuzzJSONRequest sends signed requests with arbitrary bodies and targets to
// a service whose handlers never fail as servers fail: every answer must be
// a 200 or an AWS-shaped 400, never a 5xx, never a crash. go test runs the
// seeds below; go test -fuzz FuzzJSONRequest explores further.
func FuzzJSONRequest(f *testing.F) {
	echo := toyPrefix + ".Echo"
	for _, seed := range []struct{ body, target string }{
		{`{"name":"a","count":1,"tags":["x"],"at":1767225600.5,"nested":{"flag":true}}`, echo},
		{`{"name":"a","at":"2026-01-01T00:00:00Z"}`, echo},
		{``, echo},
		{`{}`, echo},
		{`null`, echo},
		{`[]`, echo},
		{`"name"`, echo},
		{`{"name":"a",`, echo},
		{`{"name":5}`, echo},
		{`{"count":-1,"tags":[""]}`, echo},
		{`{"count":1e400}`, echo},
		{`{"at":"soon"}`, echo},
		{`{"at":NaN}`, echo},
		{`{"name":"\ud800"}`, echo},
		{"\xff\xfe{}", echo},
		{`{"name":"a"}`, toyPrefix + ".Nil"},
		{`{}`, toyPrefix + ".NotFound"},
		{`{}`, toyPrefix + ".Limit"},
		{`{}`, toyPrefix + ".Nope"},
		{`{}`, toyPrefix + "."},
		{`{}`, "."},
		{`{}`, ""},
		{`{}`, "Echo"},
		{`{}`, toyPrefix + ".Echo.Echo"},
		{`{"name":"` + string(bytes.Repeat([]byte("x"), 5000)) + `"}`, echo},
	} {
		f.Add([]byte(seed.body), seed.target)
	}

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := api.NewServer(api.Config{
		Credentials:  credentials,
		Logger:       slog.New(slog.DiscardHandler),
		Clock:        func() time.Time { return now },
		MaxBodyBytes: 4096,
	})
	s.HandleJSON(toyService(false))
	h := s.Handler()
	signer := v4.NewSigner()
	c := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}

	f.Fuzz(func(t *testing.T, body []byte, target string) {
		req := httptest.NewRequest(http.MethodPost, "http://flotilla.test/", bytes.NewReader(body))
		req.Header.Set("Content-Type", api.JSONContentType)
		req.Header.Set("X-Amz-Target", target)
		if err := signer.SignHTTP(context.Background(), c, req, hashHex(body), toySigning, region, now); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		resp := w.Result()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d for target %q body %q: %s", resp.StatusCode, target, body, w.Body.Bytes())
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("response is not JSON: %q", w.Body.Bytes())
		}
		if w.Header().Get("Content-Type") != api.JSONContentType || w.Header()["x-amzn-RequestId"] == nil {
			t.Fatalf("headers = %v", w.Header())
		}
		if resp.StatusCode == http.StatusBadRequest {
			var e struct {
				Type string `json:"__type"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Type == "" || w.Header()["x-amzn-ErrorType"][0] != e.Type {
				t.Fatalf("400 without an AWS error shape: %s", w.Body.Bytes())
			}
		}
	})
}
