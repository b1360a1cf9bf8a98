package sdktest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// TestConfigNoRetries checks that a client made from Config sends a
// failing call once, to the endpoint given, through HTTPClient's client.
func TestConfigNoRetries(t *testing.T) {
	var calls atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"__type":"ServerException","message":"down"}`))
	}))
	defer hs.Close()
	cfg := Config(hs.URL, "AKIDEXAMPLE", "secret")
	if _, ok := cfg.HTTPClient.(*http.Client).Transport.(ownBody); !ok {
		t.Fatalf("client's transport is %T, want HTTPClient's", cfg.HTTPClient.(*http.Client).Transport)
	}
	_, err := ecs.NewFromConfig(cfg).ListClusters(context.Background(), &ecs.ListClustersInput{})
	if err == nil {
		t.Fatal("call to a failing server succeeded")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
}
