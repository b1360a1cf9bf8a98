package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flotilla/flotilla/internal/api"
)

// TestRegionalJSON: each request runs in the service of the region its
// credential scope names, and a region that cannot be opened is a logged
// ServerException.
func TestRegionalJSON(t *testing.T) {
	type out struct{ Region string }
	regional := func(name string) api.JSONService {
		svc := toyService(false)
		svc.Operations = map[string]api.Operation{"Where": api.JSON(func(context.Context, *empty) (*out, error) {
			return &out{Region: name}, nil
		})}
		return svc
	}
	opened := map[string]int{}
	s := api.NewServer(api.Config{Credentials: credentials, Logger: slog.New(slog.DiscardHandler)})
	s.HandleJSON(api.RegionalJSON(regional("template"), func(_ context.Context, region string) (api.JSONService, error) {
		if region == "ap-east-1" {
			return api.JSONService{}, errors.New("store is closed")
		}
		opened[region]++
		return regional(region), nil
	}))
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	for _, region := range []string{"us-east-1", "eu-west-1", "cn-north-1", "us-east-1"} {
		resp, body := do(t, newRequest(t, hs.URL, signed{target: toyPrefix + ".Where", body: `{}`, region: region}))
		if resp.StatusCode != http.StatusOK || string(body) != `{"Region":"`+region+`"}` {
			t.Fatalf("signed for %s: %d %s", region, resp.StatusCode, body)
		}
	}
	if opened["us-east-1"] != 2 || opened["eu-west-1"] != 1 {
		t.Fatalf("regions asked for: %v", opened)
	}
	resp, body := do(t, newRequest(t, hs.URL, signed{target: toyPrefix + ".Where", body: `{}`, region: "ap-east-1"}))
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "ServerException") || strings.Contains(string(body), "store") {
		t.Fatalf("a region that fails to open: %d %s", resp.StatusCode, body)
	}
}
