package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/lbnode"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

func openStore(t *testing.T, path string) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func openRegions(t *testing.T, st store.Store, defaultRegion string) *regions {
	t.Helper()
	rs := newRegions(regionsConfig{Store: st, AccountID: "123456789012", DefaultRegion: defaultRegion, DataDir: t.TempDir(),
		Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
	if err := rs.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rs
}

// clusterARNs lists the clusters of a region.
func clusterARNs(t *testing.T, rs *regions, region string) []string {
	t.Helper()
	s, err := rs.get(context.Background(), region)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.ecs.ListClusters(context.Background(), &wire.ListClustersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return out.ClusterArns
}

// writeAsOneRegionRelease writes a cluster as the release serving one
// region did: an ECS service over the whole store, in that region.
func writeAsOneRegionRelease(t *testing.T, st store.Store, region string) {
	t.Helper()
	old := ecs.New(ecs.Config{Store: st, Account: flotilla.Account{Region: region, ID: "123456789012"}})
	if _, err := old.CreateCluster(context.Background(), &wire.CreateClusterRequest{ClusterName: ptr.To("old")}); err != nil {
		t.Fatal(err)
	}
}

// TestRegionsUpgradeKeepsData: the clusters a one-region release wrote are
// found in their region after the upgrade, and only there, whatever
// --region the upgraded server starts with; regions made later keep
// their own resources across restarts.
func TestRegionsUpgradeKeepsData(t *testing.T) {
	for _, flag := range []string{"us-east-1", "eu-west-1"} {
		t.Run("region flag "+flag, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			st := openStore(t, path)
			writeAsOneRegionRelease(t, st, "us-east-1")

			rs := openRegions(t, st, flag)
			want := "arn:aws:ecs:us-east-1:123456789012:cluster/old"
			if got := clusterARNs(t, rs, "us-east-1"); len(got) != 1 || got[0] != want {
				t.Fatalf("us-east-1 after the upgrade lists %v, want [%s]", got, want)
			}
			if got := clusterARNs(t, rs, "eu-west-1"); len(got) != 0 {
				t.Fatalf("eu-west-1 after the upgrade lists %v, want none", got)
			}
			s, _ := rs.get(context.Background(), "ap-south-2")
			if _, err := s.ecs.CreateCluster(context.Background(), &wire.CreateClusterRequest{ClusterName: ptr.To("new")}); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			// Restarted, with the other flag.
			st = openStore(t, path)
			defer st.Close()
			rs = openRegions(t, st, "us-west-2")
			if got := clusterARNs(t, rs, "us-east-1"); len(got) != 1 || got[0] != want {
				t.Fatalf("us-east-1 after a restart lists %v, want [%s]", got, want)
			}
			if got := clusterARNs(t, rs, "ap-south-2"); len(got) != 1 || got[0] != "arn:aws:ecs:ap-south-2:123456789012:cluster/new" {
				t.Fatalf("ap-south-2 after a restart lists %v", got)
			}
			if got := clusterARNs(t, rs, "us-west-2"); len(got) != 0 {
				t.Fatalf("us-west-2 lists %v, want none", got)
			}
			// The first region's keys are where the old release wrote them,
			// so that it would still find them after a downgrade.
			if _, err := st.Get(context.Background(), flotilla.ClusterKey("old")); err != nil {
				t.Fatalf("the old cluster's key: %v", err)
			}
		})
	}
}

// TestRegionMadeWhileRunningRuns checks that a region made on a request
// while the server runs has its stack's components run by the regions'
// supervisor: its load balancers' configuration source answers (it has
// read the store), and that its service controller is its only
// leader-only component.
func TestRegionMadeWhileRunningRuns(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer st.Close()
	rs := openRegions(t, st, "us-east-1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rs.Run(ctx) }()
	s, err := rs.get(ctx, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	// Without its source running, the poll would end with ErrNoConfig.
	if _, rev, err := s.lbs.source.Config(ctx, 0); err != nil || rev == 0 {
		t.Fatalf("eu-west-1's load balancer source: revision %d, %v", rev, err)
	}
	var leaderOnly []string
	for _, c := range s.components() {
		if c.LeaderOnly {
			leaderOnly = append(leaderOnly, c.Name)
		}
	}
	if len(leaderOnly) != 1 || leaderOnly[0] != "region eu-west-1 service controller" {
		t.Errorf("leader-only components %q, want the service controller", leaderOnly)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestRegionsShareConnLimit gives every region's load balancer node the
// one bound on client connections of the process, whose file descriptors
// they share, rather than each a bound of its own.
func TestRegionsShareConnLimit(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer st.Close()
	rs := openRegions(t, st, "us-east-1")
	first, err := rs.get(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	second, err := rs.get(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	a, b := first.lbs.node.Server().ConnLimit(), second.lbs.node.Server().ConnLimit()
	if a != b || a != rs.cfg.ConnLimit {
		t.Fatalf("us-east-1's node has connection limit %p, eu-west-1's %p, the process's %p", a, b, rs.cfg.ConnLimit)
	}
}

// TestRegionsServeTheirOwn: through the API server, each region's ECS and
// ELBv2 requests and load balancer nodes see that region's resources only.
func TestRegionsServeTheirOwn(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer st.Close()
	rs := openRegions(t, st, "us-east-1")
	srv := api.NewServer(api.Config{Credentials: sigv4.StaticCredentials{testKey: testSecret}, Logger: slog.New(slog.DiscardHandler)})
	if err := rs.Register(context.Background(), srv); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- rs.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	elbIn := func(region string) *elb.Client {
		cfg := sdktest.Config(hs.URL, testKey, testSecret)
		cfg.Region = region
		return elb.NewFromConfig(cfg)
	}
	created := sdktest.Must(elbIn("eu-west-1").CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: ptr.To("web"), Subnets: []string{"subnet-a", "subnet-b"}}))
	lbARN := *created.LoadBalancers[0].LoadBalancerArn
	if !strings.HasPrefix(lbARN, "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/") {
		t.Fatalf("load balancer ARN %s", lbARN)
	}
	if out := sdktest.Must(elbIn("us-east-1").DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})); len(out.LoadBalancers) != 0 {
		t.Fatalf("us-east-1 lists %d load balancers", len(out.LoadBalancers))
	}

	// A node of each region follows that region's configuration: the one
	// of eu-west-1 as of the store revision of the write, which us-east-1
	// never sees.
	written, err := st.Rev(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for region, c := range map[string]struct {
		after int64
		want  int
	}{"eu-west-1": {written - 1, 1}, "us-east-1": {0, 0}} {
		// A poll answers once the node's region has a newer revision, or
		// with the configuration it has after the poll's timeout.
		cfg, _, err := lbnode.NewHTTPSource(hs.URL, region, testKey, testSecret, nil).Config(ctx, c.after)
		if err != nil {
			t.Fatalf("%s node: %v", region, err)
		}
		if len(cfg.LoadBalancers) != c.want {
			t.Fatalf("%s node's configuration has %d load balancers, want %d", region, len(cfg.LoadBalancers), c.want)
		}
	}
}

const (
	testKey    = "AKIAFLOTILLATEST0001"
	testSecret = "c2VjcmV0LWZvci10ZXN0cy1vbmx5LW5vdC1yZWFs"
)
