package api_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/api"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var (
	// goldenNow is the server's clock in the golden tests, so that Date
	// headers and skew messages are stable.
	goldenNow   = time.Date(2026, 1, 1, 0, 15, 0, 0, time.UTC)
	signatureRE = regexp.MustCompile(`Signature=[0-9a-f]{64}`)
	requestIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// TestErrorShapes pins the wire form of every error the protocol layer
// answers: status, headers, and the {"__type","message"} body.
func TestErrorShapes(t *testing.T) {
	srv := newTestServer(t, api.Config{Clock: func() time.Time { return goldenNow }, MaxBodyBytes: 1024})
	echo := toyPrefix + ".Echo"
	big := `{"name":"` + strings.Repeat("x", 2000) + `"}`
	tests := []struct {
		name string
		req  signed
	}{
		// JSON protocol
		{"malformed_json", signed{target: echo, body: `{"name": "x",`}},
		{"malformed_json_garbage", signed{target: echo, body: `name=x`}},
		{"wrong_type", signed{target: echo, body: `{"name": 5}`}},
		{"wrong_type_nested", signed{target: echo, body: `{"name":"a","nested":{"flag":"yes"}}`}},
		{"wrong_type_integer_overflow", signed{target: echo, body: `{"name":"a","count":3000000000}`}},
		{"wrong_type_top_level", signed{target: echo, body: `["name"]`}},
		{"invalid_timestamp", signed{target: echo, body: `{"name":"a","at":"yesterday"}`}},
		{"missing_required", signed{target: echo, body: `{}`}},
		{"empty_body_validation", signed{target: echo, body: ``}},
		{"several_validation_errors", signed{target: echo, body: `{"count":-1,"tags":["a",""]}`}},
		{"unknown_operation", signed{target: toyPrefix + ".Nope", body: `{}`}},
		{"unknown_service", signed{target: "Nope_20260101.Echo", body: `{}`}},
		{"unserved_service_by_target", signed{target: "DynamoDB_20120810.ListTables", body: `{}`, service: "dynamodb"}},
		{"unserved_service_by_signing_name", signed{target: "Nope_20260101.Echo", body: `{}`, service: "monitoring"}},
		{"other_region", signed{target: echo, body: `{}`, region: "eu-west-1"}},
		{"target_without_operation", signed{target: "Echo", body: `{}`}},
		{"missing_target", signed{body: `{}`}},
		{"too_large_body", signed{target: echo, body: big}},
		{"too_large_chunked_body", signed{target: echo, body: big, chunked: true}},
		// handlers
		{"mapped_error", signed{target: toyPrefix + ".NotFound"}},
		{"api_error", signed{target: toyPrefix + ".Limit"}},
		{"wrapped_api_error_with_status", signed{target: toyPrefix + ".Wrapped"}},
		{"unmapped_error", signed{target: toyPrefix + ".Fail"}},
		{"handler_panic", signed{target: toyPrefix + ".Panic"}},
		{"disk_full", signed{target: toyPrefix + ".DiskFull"}},
		// SigV4
		{"sigv4_missing_authentication", signed{target: echo, body: `{}`, after: func(r *http.Request) { r.Header.Del("Authorization") }}},
		{"sigv4_missing_signature", signed{target: echo, body: `{}`, after: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
		}}},
		{"sigv4_missing_date", signed{target: echo, body: `{}`, after: func(r *http.Request) { r.Header.Del("X-Amz-Date") }}},
		{"sigv4_unknown_access_key", signed{target: echo, body: `{}`, akid: "AKIDUNKNOWN", secret: secret}},
		{"sigv4_wrong_secret", signed{target: echo, body: `{}`, akid: akid, secret: "wrong"}},
		{"sigv4_expired", signed{target: echo, body: `{}`, at: goldenNow.Add(-15 * time.Minute)}},
		{"sigv4_not_yet_current", signed{target: echo, body: `{}`, at: goldenNow.Add(10 * time.Minute)}},
		{"sigv4_tampered_body", signed{target: echo, body: `{"name":"a"}`, sent: `{"name":"b"}`}},
		{"sigv4_tampered_header", signed{target: echo, body: `{}`, after: func(r *http.Request) {
			r.Header.Set("X-Amz-Target", toyPrefix+".Nil")
		}}},
		{"sigv4_wrong_service", signed{target: echo, body: `{}`, service: "ecs"}},
		{"sigv4_invalid_region", signed{target: echo, body: `{}`, region: "moon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.at.IsZero() {
				tt.req.at = goldenNow
			}
			resp, body := do(t, newRequest(t, srv.URL, tt.req))
			got := describeResponse(t, resp, body)
			path := filepath.Join("testdata", "errors", tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("response differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

// describeResponse renders an error response for a golden file, checking
// the invariants every error must hold on the way.
func describeResponse(t *testing.T, resp *http.Response, body []byte) string {
	t.Helper()
	var e struct {
		Type    *string `json:"__type"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Type == nil || e.Message == nil {
		t.Fatalf("body %q is not an AWS JSON error (%v)", body, err)
	}
	if got := resp.Header.Get("X-Amzn-Errortype"); got != *e.Type {
		t.Errorf("x-amzn-ErrorType = %q, want __type %q", got, *e.Type)
	}
	if id := resp.Header.Get("X-Amzn-Requestid"); !requestIDRE.MatchString(id) {
		t.Errorf("x-amzn-RequestId = %q, want a UUID", id)
	}
	if resp.Header.Get("Date") == "" {
		t.Error("no Date header")
	}
	if (resp.StatusCode >= 500) != (*e.Type == api.CodeServerException || *e.Type == api.CodeServiceUnavailable) {
		t.Errorf("status %d with %s: only ServerException is a 500", resp.StatusCode, *e.Type)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d\n", resp.StatusCode)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := strings.Join(resp.Header[k], ", ")
		if k == "X-Amzn-Requestid" {
			v = "<request-id>"
		}
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	// Signatures cover the Host header, whose port changes from run to run.
	fmt.Fprintf(&b, "\n%s\n", signatureRE.ReplaceAll(body, []byte("Signature=<signature>")))
	return b.String()
}
