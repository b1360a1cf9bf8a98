package lbnode_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/elbv2"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/lbnode"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

var quiet = slog.New(slog.DiscardHandler)

// fixture is a bbolt store with the ELBv2 service over it and a running
// StoreSource.
type fixture struct {
	st  store.Store
	elb *elbv2.Service
	src *lbnode.StoreSource
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{InitialMmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, elb: elbv2.New(elbv2.Config{Store: st}), now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	// A poll never times out here: Config returns because of a change.
	f.src = lbnode.NewStoreSource(st, lbnode.StoreSourceOptions{Logger: quiet, PollTimeout: time.Hour, Clock: func() time.Time { return f.now }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.src.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// config calls Config with a deadline that only a hung test reaches.
func (f *fixture) config(t *testing.T, after int64) (lb.Config, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, rev, err := f.src.Config(ctx, after)
	if err != nil {
		t.Fatalf("Config(after %d): %v", after, err)
	}
	return cfg, rev
}

func (f *fixture) putInstance(t *testing.T, ci flotilla.ContainerInstance) int64 {
	t.Helper()
	op, err := store.PutJSON(flotilla.InstanceKey(ci.Cluster, ci.ID), ci)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := f.st.Txn(context.Background(), store.Txn{Ops: []store.Op{op}})
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func targets(ids ...string) []wire.TargetDescription {
	var out []wire.TargetDescription
	for _, id := range ids {
		out = append(out, wire.TargetDescription{Id: ptr.To(id)})
	}
	return out
}

// TestStoreSource: the configuration comes with the exact revision it was
// read at; instance targets get their instance's address (127.0.0.1 when
// it has none) and are left out while their instance is unknown; a long
// poll returns on a change of the ELBv2 records, on a change of an
// instance's address, and on a write that changes nothing in the
// configuration (the service controller waits for its revision).
func TestStoreSource(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.putInstance(t, flotilla.ContainerInstance{ID: "a", Cluster: "c", EC2InstanceID: "i-a", Address: "10.1.2.3", Status: flotilla.InstanceActive})
	f.putInstance(t, flotilla.ContainerInstance{ID: "b", Cluster: "c", EC2InstanceID: "i-b", Status: flotilla.InstanceActive})
	tg := must[*wire.CreateTargetGroupOutput](t)(f.elb.CreateTargetGroup(ctx, &wire.CreateTargetGroupInput{
		Name: ptr.To("web"), Protocol: wire.ProtocolEnumHttp, Port: ptr.To(int32(8080)), TargetType: wire.TargetTypeEnumInstance,
	})).TargetGroups[0]
	arn := *tg.TargetGroupArn
	if _, err := f.elb.RegisterTargets(ctx, &wire.RegisterTargetsInput{TargetGroupArn: &arn, Targets: targets("i-a", "i-b", "i-c")}); err != nil {
		t.Fatal(err)
	}
	written := must[int64](t)(f.st.Rev(ctx))

	cfg, rev := f.config(t, 0)
	if rev != written {
		t.Errorf("revision %d, want %d, the store's after the last write", rev, written)
	}
	want := []lb.Target{{ID: "i-a", Address: "10.1.2.3"}, {ID: "i-b", Address: "127.0.0.1"}}
	if len(cfg.TargetGroups) != 1 || !reflect.DeepEqual(cfg.TargetGroups[0].Targets, want) {
		t.Fatalf("target groups %+v, want one with targets %+v", cfg.TargetGroups, want)
	}

	// A long poll returns once the records change.
	type result struct {
		cfg lb.Config
		rev int64
		err error
	}
	poll := func(after int64) chan result {
		ch := make(chan result, 1)
		go func() {
			// A deadline that only a poll that missed the change reaches.
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			c, r, err := f.src.Config(ctx, after)
			ch <- result{c, r, err}
		}()
		return ch
	}
	wait := func(ch chan result) result {
		t.Helper()
		r := <-ch
		if r.err != nil {
			t.Fatalf("long poll: %v", r.err)
		}
		return r
	}
	next := poll(rev)
	if _, err := f.elb.RegisterTargets(ctx, &wire.RegisterTargetsInput{TargetGroupArn: &arn, Targets: []wire.TargetDescription{{Id: ptr.To("i-a"), Port: ptr.To(int32(9000))}}}); err != nil {
		t.Fatal(err)
	}
	written = must[int64](t)(f.st.Rev(ctx))
	got := wait(next)
	if got.rev != written || len(got.cfg.TargetGroups[0].Targets) != 3 {
		t.Errorf("after RegisterTargets: revision %d (want %d), targets %+v", got.rev, written, got.cfg.TargetGroups[0].Targets)
	}

	// The instance i-c appears: its target joins.
	next = poll(got.rev)
	written = f.putInstance(t, flotilla.ContainerInstance{ID: "c", Cluster: "c", EC2InstanceID: "i-c", Address: "10.9.9.9", Status: flotilla.InstanceActive})
	got = wait(next)
	if got.rev != written || !containsTarget(got.cfg.TargetGroups[0].Targets, lb.Target{ID: "i-c", Address: "10.9.9.9"}) {
		t.Errorf("after instance i-c registered: revision %d (want %d), targets %+v", got.rev, written, got.cfg.TargetGroups[0].Targets)
	}

	// Registering a registered target again rewrites the record and
	// changes nothing else: its revision still reaches the nodes.
	next = poll(got.rev)
	prev := got.cfg
	if _, err := f.elb.RegisterTargets(ctx, &wire.RegisterTargetsInput{TargetGroupArn: &arn, Targets: targets("i-a")}); err != nil {
		t.Fatal(err)
	}
	written = must[int64](t)(f.st.Rev(ctx))
	got = wait(next)
	if got.rev != written || !reflect.DeepEqual(got.cfg, prev) {
		t.Errorf("after a write that changes nothing: revision %d (want %d), config changed: %v", got.rev, written, !reflect.DeepEqual(got.cfg, prev))
	}
}

func containsTarget(ts []lb.Target, t lb.Target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// TestStoreSourceReports: a report is stamped with the control plane's
// clock and counts for TargetHealth while it is live.
func TestStoreSourceReports(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const tg = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1"
	healthy := []lb.TargetHealth{{Target: lb.Target{ID: "10.0.0.1", Port: 80}, State: lb.StateHealthy}}
	err := f.src.Report(ctx, lbnode.Report{Node: "n1", AppliedRevision: 7, At: time.Unix(1, 0), Groups: map[string][]lb.TargetHealth{tg: healthy}})
	if err != nil {
		t.Fatal(err)
	}
	reports := must[[]lbnode.Report](t)(lbnode.Reports(ctx, f.st))
	if len(reports) != 1 || !reports[0].At.Equal(f.now) || reports[0].AppliedRevision != 7 || reports[0].Node != "n1" {
		t.Fatalf("Reports = %+v, want n1's stamped %v", reports, f.now)
	}
	got := must[[]lb.TargetHealth](t)(lbnode.TargetHealth(ctx, f.st, f.now, tg))
	if !reflect.DeepEqual(got, healthy) {
		t.Errorf("TargetHealth = %+v, want %+v", got, healthy)
	}
	if got := must[[]lb.TargetHealth](t)(lbnode.TargetHealth(ctx, f.st, f.now.Add(lbnode.ReportTTL), tg)); len(got) != 0 {
		t.Errorf("TargetHealth once the report expired = %+v, want none", got)
	}
	for _, bad := range []string{"", "a/b", "a b"} {
		if err := f.src.Report(ctx, lbnode.Report{Node: bad}); !errors.Is(err, lbnode.ErrInvalidNode) {
			t.Errorf("Report(node %q) = %v, want ErrInvalidNode", bad, err)
		}
	}
}

// TestHTTPSource: a node reaches the source through the API server's
// SigV4-authenticated handler, and wrong credentials are refused.
func TestHTTPSource(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const akid, secret, region = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1"
	s := api.NewServer(api.Config{Credentials: sigv4.StaticCredentials{akid: secret}, Logger: quiet})
	s.HandleAuthenticated(lbnode.Path+"/", api.RawRoute{SigningName: lbnode.SigningName, Handler: lbnode.Handler(f.src, quiet)})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	if _, err := f.elb.CreateLoadBalancer(ctx, &wire.CreateLoadBalancerInput{Name: ptr.To("front")}); err != nil {
		t.Fatal(err)
	}
	written := must[int64](t)(f.st.Rev(ctx))

	src := lbnode.NewHTTPSource(hs.URL, region, akid, secret, nil)
	cfg, rev, err := src.Config(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rev != written || len(cfg.LoadBalancers) != 1 || cfg.LoadBalancers[0].Name != "front" {
		t.Errorf("Config = %+v at %d, want the load balancer front at %d", cfg, rev, written)
	}
	r := lbnode.Report{Node: "n1", AppliedRevision: rev, Groups: map[string][]lb.TargetHealth{"tg": {{Target: lb.Target{ID: "10.0.0.1", Port: 80}, State: lb.StateHealthy}}}}
	if err := src.Report(ctx, r); err != nil {
		t.Fatal(err)
	}
	reports := must[[]lbnode.Report](t)(lbnode.Reports(ctx, f.st))
	r.At = f.now
	if len(reports) != 1 || !reflect.DeepEqual(reports[0].Groups, r.Groups) || !reports[0].At.Equal(f.now) || reports[0].AppliedRevision != rev {
		t.Errorf("stored reports %+v, want %+v", reports, r)
	}

	bad := lbnode.NewHTTPSource(hs.URL, region, akid, "wrong", nil)
	var se *lbnode.StatusError
	if _, _, err := bad.Config(ctx, 0); !errors.As(err, &se) || se.Status/100 != 4 {
		t.Errorf("Config with a wrong secret = %v, want a 4xx", err)
	}
	if err := bad.Report(ctx, r); !errors.As(err, &se) || se.Status/100 != 4 {
		t.Errorf("Report with a wrong secret = %v, want a 4xx", err)
	}
}

// fixedSource is a Source with one configuration.
type fixedSource struct{ cfg lb.Config }

func (f fixedSource) Config(context.Context, int64) (lb.Config, int64, error) { return f.cfg, 1, nil }
func (fixedSource) Report(context.Context, lbnode.Report) error               { return nil }

// TestHandlerWithholdsKeys checks that the certificates' private keys go
// to nodes on this host or over TLS, and not in the clear to others.
func TestHandlerWithholdsKeys(t *testing.T) {
	material := []lb.CertificateMaterial{{ARN: "cert/site", CertificatePEM: "CERT", PrivateKeyPEM: "KEY"}}
	h := lbnode.Handler(fixedSource{lb.Config{Certificates: material}}, quiet)
	for _, tt := range []struct {
		remote string
		tls    bool
		want   []lb.CertificateMaterial
	}{
		{"127.0.0.1:4000", false, material},
		{"[::1]:4000", false, material},
		{"10.0.0.5:4000", true, material},
		{"10.0.0.5:4000", false, nil},
	} {
		req := httptest.NewRequest(http.MethodGet, lbnode.Path+"/config", nil)
		req.RemoteAddr = tt.remote
		if !tt.tls {
			req.TLS = nil
		} else {
			req.TLS = &tls.ConnectionState{}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var resp lbnode.ConfigResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tt.remote, rec.Code, rec.Body)
		}
		if !reflect.DeepEqual(resp.Config.Certificates, tt.want) {
			t.Errorf("from %s (TLS %v) the certificates are %v, want %v", tt.remote, tt.tls, resp.Config.Certificates, tt.want)
		}
	}
}
