package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api/ecs"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
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
