package ecs_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// countingWriter counts what the server logs.
type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// boundsServer returns the real ECS handler, logging at INFO into log.
func boundsServer(t *testing.T, log *countingWriter) http.Handler {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := api.NewServer(api.Config{
		Credentials: sigv4.StaticCredentials{testKey: testSecret},
		Logger:      slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	srv.HandleJSON(ecs.New(ecs.Config{Store: st, Account: flotilla.Account{Region: "us-east-1", ID: account}}).JSONService())
	return srv.Handler()
}

func ecsRequest(op string, body []byte) *http.Request {
	h := http.Header{
		"Content-Type": {api.JSONContentType},
		"X-Amz-Target": {"AmazonEC2ContainerServiceV20141113." + op},
	}
	return sdktest.SignedRequest("ecs", testKey, testSecret, h, body)
}

// list returns `"member":[item,item,...]` with n items.
func list(member, item string, n int) string {
	return `"` + member + `":[` + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + `]`
}

// maxBytesPerByte is how many bytes a request may allocate, in all, for
// each byte of its body: what this test holds the server to. Before the
// decoder was bounded, RegisterTaskDefinition with a million {} allocated
// about 700 bytes per byte (2 GB of RSS).
const maxBytesPerByte = 16

// TestPathologicalRequestsBounded sends requests of a few MB made of a
// million tiny items and checks that each is refused with a short answer,
// a short log line, and no more allocated than a small multiple of its
// size.
func TestPathologicalRequestsBounded(t *testing.T) {
	const million = 1_000_000
	// pad is an unknown member: it costs nothing decoded, and it lets the
	// body's budget (api.DecodeBudget) grow without adding to the decoded
	// size, so that a list of {} can come just under the budget.
	const padLen = 3 << 20
	pad := `"pad":"` + strings.Repeat("x", padLen) + `"`
	// Decoding a list costs the list's arrays, grown one element at a time:
	// about five times the last.
	under := int(float64(api.DecodeBudget(padLen)) * 0.9 / float64(5*reflect.TypeFor[wire.ContainerDefinition]().Size()))
	for _, tc := range []struct {
		name, op, body string
		code, msg      string
	}{
		{"containers", "RegisterTaskDefinition", `{"family":"f",` + list("containerDefinitions", "{}", million) + `}`,
			"SerializationException", "at containerDefinitions["},
		{"tags past the model's bound", "RegisterTaskDefinition", `{"family":"f","containerDefinitions":[{"name":"a","image":"b","memory":6}],` + list("tags", "{}", million) + `}`,
			"InvalidParameterException", "1 validation error detected: tags must have at most 50 items"},
		{"attributes", "PutAttributes", `{"cluster":"default",` + list("attributes", "{}", million) + `}`,
			"SerializationException", "at attributes["},
		{"containers just under the budget", "RegisterTaskDefinition", `{"family":"f",` + pad + `,` + list("containerDefinitions", "{}", under) + `}`,
			"ClientException", "Too many containers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log countingWriter
			h := boundsServer(t, &log)
			body := []byte(tc.body)
			rec, alloc := sdktest.ServeMeasured(h, ecsRequest(tc.op, body))
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("status %d, body %.200q: %v", rec.Code, rec.Body.Bytes(), err)
			}
			if rec.Code != http.StatusBadRequest || e.Type != tc.code || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("got %d %s %q, want 400 %s with %q", rec.Code, e.Type, e.Message, tc.code, tc.msg)
			}
			perByte := float64(alloc) / float64(len(body))
			t.Logf("%d bytes in, %d allocated (%.1f per byte), %d bytes answered, %d logged", len(body), alloc, perByte, rec.Body.Len(), log.n)
			if perByte > maxBytesPerByte {
				t.Errorf("allocated %d bytes for a body of %d: %.0f per byte, want at most %d", alloc, len(body), perByte, maxBytesPerByte)
			}
			if rec.Body.Len() > 4<<10 || log.n > 8<<10 {
				t.Errorf("answered %d bytes and logged %d, want at most 4 KiB and 8 KiB", rec.Body.Len(), log.n)
			}
		})
	}
}

// TestValidationErrorsCapped checks that an input with a thousand invalid
// items is answered with their count and only the first few of them.
func TestValidationErrorsCapped(t *testing.T) {
	var log countingWriter
	h := boundsServer(t, &log)
	rec, _ := sdktest.ServeMeasured(h, ecsRequest("PutAttributes", []byte(`{"cluster":"default",`+list("attributes", "{}", 1000)+`}`)))
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	want := "1000 validation errors detected: attributes[0].name is required; "
	if e.Type != "InvalidParameterException" || !strings.HasPrefix(e.Message, want) {
		t.Fatalf("got %s %.300q, want InvalidParameterException starting %q", e.Type, e.Message, want)
	}
	if n := strings.Count(e.Message, "is required"); n != 10 {
		t.Errorf("message lists %d errors, want 10: %q", n, e.Message)
	}
	if !bytes.Contains(rec.Body.Bytes(), []byte("attributes[9].name")) || bytes.Contains(rec.Body.Bytes(), []byte("attributes[10].name")) {
		t.Errorf("message does not list exactly the first 10: %q", e.Message)
	}
}
