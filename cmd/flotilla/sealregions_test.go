package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/cert"
	acmw "github.com/flotilla/flotilla/internal/model/acm"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/seal"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/testcert"
)

// TestSecondRegionKeyMaterialSealed: the instance credentials and the ACM
// private keys of a region other than the first, kept under its
// RegionKeyPrefix, reach the state file sealed, as the first region's do.
func TestSecondRegionKeyMaterialSealed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	st, _, err := openState(ctx, dir, filepath.Join(t.TempDir(), "master.key"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	rs := newRegions(regionsConfig{Store: st, AccountID: "123456789012", DefaultRegion: "us-east-1", DataDir: dir,
		Logger: quiet, Registerer: prometheus.NewRegistry()})
	if err := rs.Open(ctx); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := testcert.SelfSigned(t, "eu.example")
	s, err := rs.get(ctx, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ecs.CreateCluster(ctx, &wire.CreateClusterRequest{ClusterName: ptr.To("default")}); err != nil {
		t.Fatal(err)
	}
	mem := int32(1024)
	if _, err := s.ecs.RegisterContainerInstance(ctx, &wire.RegisterContainerInstanceRequest{Cluster: ptr.To("default"),
		TotalResources: []wire.Resource{{Name: ptr.To("CPU"), Type: ptr.To("INTEGER"), IntegerValue: &mem},
			{Name: ptr.To("MEMORY"), Type: ptr.To("INTEGER"), IntegerValue: &mem}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acm.ImportCertificate(ctx, &acmw.ImportCertificateRequest{Certificate: certPEM, PrivateKey: keyPEM}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	raw := openStore(t, filepath.Join(dir, "state.db"))
	n := 0
	for _, p := range []string{ecs.InstanceKeyPrefix, cert.RecordPrefix} {
		under := flotilla.RegionKeyPrefix("eu-west-1") + p
		kvs, _, err := raw.List(ctx, under, store.ListOptions{})
		if err != nil || len(kvs) == 0 {
			t.Fatalf("list %s: %d records, %v", under, len(kvs), err)
		}
		for _, kv := range kvs {
			if !seal.IsSealed(kv.Value) {
				t.Errorf("%s is stored in plaintext", kv.Key)
			}
			n++
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	// A line of the private key's base64, as any encoding of it holds it.
	keyLine := strings.Split(string(keyPEM), "\n")[1]
	for _, plain := range []string{"secretAccessKey", keyLine} {
		if bytes.Contains(b, []byte(plain)) {
			t.Errorf("state.db holds %q in plaintext", plain)
		}
	}
	t.Logf("%d sealed records of eu-west-1", n)
}
