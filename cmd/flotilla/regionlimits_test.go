package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/lbnode"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/store"
)

// regionRecorded reports whether the store has a record of region.
func regionRecorded(t *testing.T, rs *regions, region string) bool {
	t.Helper()
	_, _, err := store.GetJSON[flotilla.Region](context.Background(), rs.cfg.Store, flotilla.RegionKey(region))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestRegionsMadeOnlyByTheAccount: an instance's key or a node's key
// signed for a region not served here is refused with the service's
// signature error naming the region, and makes no region; a name that is
// no AWS region is refused as AWS refuses it; the account's key makes the
// region, which the other keys then reach.
func TestRegionsMadeOnlyByTheAccount(t *testing.T) {
	f := newAuthFixture(t)
	inst := f.inst[f.instARN[0]]
	discover := func(c Credentials, region string) (*http.Response, string) {
		return f.callIn(t, c, region, wire.SigningName, http.MethodPost, "/", jsonHeaders(wire.TargetPrefix+".DiscoverPollEndpoint"), `{"cluster":"default"}`)
	}
	config := func(region string) (*http.Response, string) {
		return f.callIn(t, f.node, region, lbnode.SigningName, http.MethodGet, lbnode.Path+"/config?after=0", nil, "")
	}

	for _, region := range []string{"eu-west-2", "us-esat-1", "zz-inst-1"} {
		resp, b := discover(inst, region)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "InvalidSignatureException") || !strings.Contains(b, region) {
			t.Errorf("instance key in %s: %d %s; want InvalidSignatureException naming the region", region, resp.StatusCode, b)
		}
		resp, b = config(region)
		if resp.StatusCode == http.StatusOK || !strings.Contains(b, region) {
			t.Errorf("node key in %s: %d %s; want a refusal naming the region", region, resp.StatusCode, b)
		}
		if regionRecorded(t, f.regs, region) || f.regs.lookup(region) != nil {
			t.Fatalf("a request signed for %s by an instance's or a node's key made the region", region)
		}
	}
	if resp, b := discover(inst, "us-east-1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("instance key in its own region: %d %s", resp.StatusCode, b)
	}

	// The account's key makes eu-west-2; the node's key then reads its
	// configuration, and the instance's key gets past the region.
	if resp, b := f.callIn(t, f.account, "eu-west-2", wire.SigningName, http.MethodPost, "/", jsonHeaders(wire.TargetPrefix+".ListClusters"), `{}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("account key in eu-west-2: %d %s", resp.StatusCode, b)
	}
	if !regionRecorded(t, f.regs, "eu-west-2") {
		t.Fatal("the account's request made no record of eu-west-2")
	}
	if resp, b := config("eu-west-2"); resp.StatusCode != http.StatusOK {
		t.Fatalf("node key in eu-west-2, once served: %d %s", resp.StatusCode, b)
	}
	if resp, b := discover(inst, "eu-west-2"); strings.Contains(b, "Credential should be scoped") {
		t.Fatalf("instance key in eu-west-2, once served: %d %s", resp.StatusCode, b)
	}
}

// TestRegionsCapped: past maxRegions, the account's key makes no region:
// ECS and ACM answer LimitExceededException, ELBv2 OperationNotPermitted,
// and the regions served keep being served.
func TestRegionsCapped(t *testing.T) {
	f := newAuthFixture(t)
	var made []string
	for _, region := range []string{"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "us-west-1", "us-west-2", "ap-south-1", "sa-east-1"} {
		if len(f.regs.snapshot()) == maxRegions {
			break
		}
		if _, err := f.regs.get(context.Background(), region); err != nil {
			t.Fatalf("region %s, %d served: %v", region, len(f.regs.snapshot()), err)
		}
		made = append(made, region)
	}
	over := "ca-central-1"
	for _, c := range []struct{ service, target, body, code string }{
		{wire.SigningName, wire.TargetPrefix + ".ListClusters", `{}`, "LimitExceededException"},
		{"acm", "CertificateManager.ListCertificates", `{}`, "LimitExceededException"},
		{lbnode.SigningName, "", "Action=DescribeLoadBalancers&Version=2015-12-01", "OperationNotPermitted"},
	} {
		hdr := jsonHeaders(c.target)
		if c.target == "" {
			hdr = map[string]string{"Content-Type": api.FormContentType}
		}
		resp, b := f.callIn(t, f.account, over, c.service, http.MethodPost, "/", hdr, c.body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, c.code) || !strings.Contains(b, over) {
			t.Errorf("%s in a region past the cap: %d %s; want %s", c.service, resp.StatusCode, b, c.code)
		}
	}
	if regionRecorded(t, f.regs, over) || len(f.regs.snapshot()) != maxRegions {
		t.Fatalf("past the cap: %s recorded %v, %d regions served", over, regionRecorded(t, f.regs, over), len(f.regs.snapshot()))
	}
	last := made[len(made)-1]
	if resp, b := f.callIn(t, f.account, last, wire.SigningName, http.MethodPost, "/", jsonHeaders(wire.TargetPrefix+".ListClusters"), `{}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("%s, served: %d %s", last, resp.StatusCode, b)
	}
}

// hookStore is a store whose reads go through hooks first: a hook's error
// is the read's.
type hookStore struct {
	store.Store
	get   func(key string) error
	list  func(prefix string) error
	watch func(prefix string) error
}

func (s *hookStore) Get(ctx context.Context, key string) (*store.KV, error) {
	if s.get != nil {
		if err := s.get(key); err != nil {
			return nil, err
		}
	}
	return s.Store.Get(ctx, key)
}

func (s *hookStore) List(ctx context.Context, prefix string, opts store.ListOptions) ([]store.KV, int64, error) {
	if s.list != nil {
		if err := s.list(prefix); err != nil {
			return nil, 0, err
		}
	}
	return s.Store.List(ctx, prefix, opts)
}

func (s *hookStore) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan store.Event, error) {
	if s.watch != nil {
		if err := s.watch(prefix); err != nil {
			return nil, err
		}
	}
	return s.Store.Watch(ctx, prefix, fromRev)
}

// TestRegionsMakeHoldsNoLockOnStore: while a region's record is read, the
// regions made already are served: rs.mu is not held across store I/O.
func TestRegionsMakeHoldsNoLockOnStore(t *testing.T) {
	ctx := context.Background()
	entered, release := make(chan struct{}), make(chan struct{})
	hs := &hookStore{Store: openStore(t, filepath.Join(t.TempDir(), "state.db"))}
	defer hs.Close()
	rs := openRegions(t, hs, "us-east-1")
	hs.get = func(key string) error {
		if key == flotilla.RegionKey("eu-west-2") {
			close(entered)
			<-release
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { _, err := rs.get(ctx, "eu-west-2"); done <- err }()
	<-entered
	held := !rs.mu.TryLock()
	if !held {
		rs.mu.Unlock()
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if held {
		t.Fatal("rs.mu is held while the store is read")
	}
	if rs.lookup("eu-west-2") == nil {
		t.Fatal("eu-west-2 not served after get")
	}
}

// failures is a slog handler that sends every record saying a region's
// stack failed.
type failures chan string

func (f failures) Enabled(context.Context, slog.Level) bool { return true }
func (f failures) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "stack failed") {
		select {
		case f <- r.Message:
		default: // enough seen
		}
	}
	return nil
}
func (f failures) WithAttrs([]slog.Attr) slog.Handler { return f }
func (f failures) WithGroup(string) slog.Handler      { return f }

// TestRegionsRunRestartsAFailedStack: a region's stack whose store fails
// is logged and started again, and Run goes on serving: one region's
// failure does not stop the server.
func TestRegionsRunRestartsAFailedStack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var failing atomic.Bool
	broken := errors.New("disk on fire")
	fail := func(prefix string) error {
		if failing.Load() && strings.HasPrefix(prefix, flotilla.RegionKeyPrefix("eu-west-2")) {
			return broken
		}
		return nil
	}
	hs := &hookStore{Store: openStore(t, filepath.Join(t.TempDir(), "state.db")), list: fail, watch: fail}
	defer hs.Close()
	logged := make(failures, 16)
	rs := newRegions(regionsConfig{Store: hs, AccountID: "123456789012", DefaultRegion: "us-east-1", DataDir: t.TempDir(),
		Logger: slog.New(logged), Registerer: prometheus.NewRegistry()})
	rs.restartBackoff = time.Millisecond
	if err := rs.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.get(ctx, "eu-west-2"); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	ran := make(chan error, 1)
	go func() { ran <- rs.Run(ctx) }()
	// Two failures: it was started again after the first.
	for range 2 {
		select {
		case <-logged:
		case err := <-ran:
			t.Fatalf("Run returned %v on a region's failure", err)
		}
	}
	failing.Store(false)
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run = %v after ctx ended", err)
	}
}
