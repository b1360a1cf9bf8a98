package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api/acm"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/elbv2"
	acmw "github.com/flotilla/flotilla/internal/model/acm"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	elbw "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/testcert"
)

// oneRegionWriters write one kind of resource as a release serving one
// region did: its service over the whole store, in that region.
var oneRegionWriters = map[string]func(t *testing.T, st store.Store, region string){
	"load balancer": func(t *testing.T, st store.Store, region string) {
		old := elbv2.New(elbv2.Config{Store: st, Region: region, AccountID: "123456789012"})
		if _, err := old.CreateLoadBalancer(context.Background(), &elbw.CreateLoadBalancerInput{Name: ptr.To("front")}); err != nil {
			t.Fatal(err)
		}
	},
	"target group": func(t *testing.T, st store.Store, region string) {
		old := elbv2.New(elbv2.Config{Store: st, Region: region, AccountID: "123456789012"})
		port := int32(80)
		if _, err := old.CreateTargetGroup(context.Background(), &elbw.CreateTargetGroupInput{Name: ptr.To("web"),
			Protocol: elbw.ProtocolEnumHttp, Port: &port, VpcId: ptr.To("vpc-flotilla")}); err != nil {
			t.Fatal(err)
		}
	},
	"certificate": func(t *testing.T, st store.Store, region string) {
		old := acm.New(acm.Config{Store: st, Region: region, AccountID: "123456789012"})
		certPEM, keyPEM := testcert.SelfSigned(t, "old.example")
		if _, err := old.ImportCertificate(context.Background(), &acmw.ImportCertificateRequest{Certificate: certPEM, PrivateKey: keyPEM}); err != nil {
			t.Fatal(err)
		}
	},
	"task definition": func(t *testing.T, st store.Store, region string) {
		old := ecs.New(ecs.Config{Store: st, Account: flotilla.Account{Region: region, ID: "123456789012"}})
		if _, err := old.RegisterTaskDefinition(context.Background(), &wire.RegisterTaskDefinitionRequest{Family: ptr.To("web"),
			ContainerDefinitions: []wire.ContainerDefinition{{Name: ptr.To("app"), Image: ptr.To("busybox"), Memory: ptr.To(int32(64))}}}); err != nil {
			t.Fatal(err)
		}
	},
	"cluster": writeAsOneRegionRelease,
}

// TestRegionsUpgradeFindsRegionWithoutClusters: a store a one-region
// release wrote in eu-west-1 with no cluster, only another kind of
// resource, is eu-west-1's after the upgrade, whatever --region says.
func TestRegionsUpgradeFindsRegionWithoutClusters(t *testing.T) {
	for kind, write := range oneRegionWriters {
		t.Run(kind, func(t *testing.T) {
			st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
			defer st.Close()
			write(t, st, "eu-west-1")
			openRegions(t, st, "us-east-1")
			rec, _, err := store.GetJSON[flotilla.Region](context.Background(), st, flotilla.RegionKey("eu-west-1"))
			if err != nil || rec.KeyPrefix != "" {
				t.Fatalf("eu-west-1's record = %+v, %v; want the first region, at the keys themselves", rec, err)
			}
			rec, _, err = store.GetJSON[flotilla.Region](context.Background(), st, flotilla.RegionKey("us-east-1"))
			if err != nil || rec.KeyPrefix != flotilla.RegionKeyPrefix("us-east-1") {
				t.Fatalf("us-east-1's record = %+v, %v; want a region of its own", rec, err)
			}
		})
	}
}

// TestRegionsUpgradeListsLoadBalancersInTheirRegion: the load balancer of
// a one-region release's store without clusters is listed in its region
// after the upgrade, and not in --region's.
func TestRegionsUpgradeListsLoadBalancersInTheirRegion(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer st.Close()
	oneRegionWriters["load balancer"](t, st, "eu-west-1")
	rs := openRegions(t, st, "us-east-1")
	for region, want := range map[string]int{"eu-west-1": 1, "us-east-1": 0} {
		s, err := rs.get(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.elb.DescribeLoadBalancers(ctx, &elbw.DescribeLoadBalancersInput{})
		if err != nil || len(out.LoadBalancers) != want {
			t.Fatalf("%s: DescribeLoadBalancers = %+v, %v; want %d", region, out, err, want)
		}
	}
}

// TestRegionsUpgradeRefusesResourcesOfTwoRegions: a one-region release's
// store whose resources name two regions (started with another --region
// in between) is refused, naming both, and no region is recorded.
func TestRegionsUpgradeRefusesResourcesOfTwoRegions(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer st.Close()
	writeAsOneRegionRelease(t, st, "eu-west-1")
	oneRegionWriters["load balancer"](t, st, "us-west-2")
	rs := newRegions(regionsConfig{Store: st, AccountID: "123456789012", DefaultRegion: "us-east-1", DataDir: t.TempDir(),
		Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
	err := rs.Open(ctx)
	if err == nil || !strings.Contains(err.Error(), ":eu-west-1:") || !strings.Contains(err.Error(), ":us-west-2:") {
		t.Fatalf("Open = %v, want a refusal naming both regions' resources", err)
	}
	if recs, _, err := store.ListJSON[flotilla.Region](ctx, st, flotilla.RegionsPrefix, store.ListOptions{}); err != nil || len(recs) != 0 {
		t.Fatalf("region records after the refusal: %+v, %v", recs, err)
	}
}
