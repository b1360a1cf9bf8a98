package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flotilla/flotilla/internal/api"
)

// TestLoggedErrorTextClipped checks that an error of a megabyte makes a
// log line of about a kilobyte, for the client's error and the server's.
func TestLoggedErrorTextClipped(t *testing.T) {
	huge := strings.Repeat("é", 1<<19)
	logs := &logBuffer{}
	s := api.NewServer(api.Config{Credentials: credentials, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	s.HandleJSON(api.JSONService{
		TargetPrefix: toyPrefix, SigningName: toySigning,
		Operations: map[string]api.Operation{
			"Client": api.JSON(func(context.Context, *empty) (*empty, error) {
				return nil, api.Errorf("ClientException", "%s", huge)
			}),
			"Server": api.JSON(func(context.Context, *empty) (*empty, error) {
				return nil, errors.New(huge)
			}),
		},
	})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	for _, op := range []string{"Client", "Server"} {
		before := len(logs.String())
		do(t, newRequest(t, hs.URL, signed{target: toyPrefix + "." + op, body: "{}"}))
		line := logs.String()[before:]
		if len(line) > 4<<10 || !strings.Contains(line, "bytes in all)") {
			t.Errorf("%s: logged %d bytes, want at most 4 KiB ending its error with the length: %.300s", op, len(line), line)
		}
	}
}
