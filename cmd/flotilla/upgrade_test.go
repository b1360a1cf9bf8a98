package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/acm"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/elbv2"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	elbdomain "github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/seal"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// copyDir copies the files of src into dst, group- and world-readable as
// an older release's umask may have left them.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpgrade opens the data directory of every fixture an earlier
// release wrote (testdata/upgrade/*, see TestWriteUpgradeFixture) with
// this code, as `flotilla server` does, and checks that every resource is
// there through the APIs, the instance's credentials still sign, the
// certificate's key still reaches the load balancer, and the key
// material is no longer in the file's bytes. Opened again, the state
// needs the same master key.
func TestUpgrade(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "upgrade", "*"))
	if len(dirs) == 0 {
		t.Fatal("no fixtures")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var f fixture
			b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatal(err)
			}
			dataDir := filepath.Join(t.TempDir(), "data")
			copyDir(t, filepath.Join(dir, "data"), dataDir)
			keyFile := DefaultMasterKeyFile(dataDir)
			ctx := context.Background()
			log := slog.New(slog.DiscardHandler)

			st, _, err := openState(ctx, dataDir, keyFile, log)
			if err != nil {
				t.Fatal(err)
			}
			keyPEM := checkFixture(t, st, f)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			raw, err := os.ReadFile(filepath.Join(dataDir, "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(f.InstanceSecret)) {
				t.Error("the instance secret is in state.db in plaintext")
			}
			for _, line := range strings.Split(keyPEM, "\n") {
				if len(line) >= 32 && !strings.HasPrefix(line, "-----") && bytes.Contains(raw, []byte(line)) {
					t.Errorf("the certificate's private key is in state.db in plaintext: %q", line)
					break
				}
			}

			// Opened again, as on the next start: sealed, nothing to
			// migrate, everything there.
			st, _, err = openState(ctx, dataDir, keyFile, log)
			if err != nil {
				t.Fatal(err)
			}
			checkFixture(t, st, f)
			st.Close()

			// Another master key, or none, does not open it.
			if _, _, err := openState(ctx, dataDir, filepath.Join(t.TempDir(), "other.key"), log); err == nil || !strings.Contains(err.Error(), "missing") {
				t.Fatalf("opened with the master key file missing: %v", err)
			}
			other := filepath.Join(t.TempDir(), "other.key")
			if err := os.WriteFile(other, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := openState(ctx, dataDir, other, log); err == nil || !strings.Contains(err.Error(), "not the one") {
				t.Fatalf("opened with another master key: %v", err)
			}
		})
	}
}

// checkFixture checks through the APIs that st holds what the fixture
// says, and returns the certificate's private key as stored.
func checkFixture(t *testing.T, st store.Store, f fixture) (keyPEM string) {
	t.Helper()
	ctx := context.Background()
	account := flotilla.Account{Region: "us-east-1", ID: "123456789012"}
	elbSvc := elbv2.New(elbv2.Config{Store: st, Region: account.Region, AccountID: account.ID})
	acmSvc := acm.New(acm.Config{Store: st, Region: account.Region, AccountID: account.ID, InUse: elbSvc.CertificateUsers})
	ecsSvc := ecs.New(ecs.Config{Store: st, Account: account})
	srv := api.NewServer(api.Config{Credentials: sigv4.Chain{sigv4.StaticCredentials{f.AccessKeyID: f.SecretAccessKey}, ecsSvc}})
	srv.HandleJSON(ecsSvc.JSONService())
	srv.HandleQuery(elbSvc.QueryService())
	srv.HandleJSON(acmSvc.JSONService())
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	cfg := sdktest.Config(hs.URL, f.AccessKeyID, f.SecretAccessKey)
	ecsc, elbc, acmc := ecssdk.NewFromConfig(cfg), elb.NewFromConfig(cfg), acmsdk.NewFromConfig(cfg)

	if out := sdktest.Must(ecsc.DescribeClusters(ctx, &ecssdk.DescribeClustersInput{Clusters: []string{f.ClusterARN}})); len(out.Clusters) != 1 {
		t.Errorf("cluster %s: %+v", f.ClusterARN, out.Failures)
	}
	if out := sdktest.Must(ecsc.DescribeTaskDefinition(ctx, &ecssdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String(f.TaskDefARN)})); aws.ToString(out.TaskDefinition.TaskDefinitionArn) != f.TaskDefARN {
		t.Errorf("task definition %s", f.TaskDefARN)
	}
	if out := sdktest.Must(ecsc.DescribeContainerInstances(ctx, &ecssdk.DescribeContainerInstancesInput{Cluster: aws.String(f.ClusterARN), ContainerInstances: []string{f.InstanceARN}})); len(out.ContainerInstances) != 1 {
		t.Errorf("container instance %s: %+v", f.InstanceARN, out.Failures)
	}
	if out := sdktest.Must(ecsc.DescribeServices(ctx, &ecssdk.DescribeServicesInput{Cluster: aws.String(f.ClusterARN), Services: []string{f.ServiceARN}})); len(out.Services) != 1 || len(out.Services[0].LoadBalancers) != 1 {
		t.Errorf("service %s: %+v", f.ServiceARN, out)
	}
	// The instance's credentials still sign its agent's calls.
	if secret, err := ecsSvc.SecretAccessKey(ctx, f.InstanceKeyID); err != nil || secret != f.InstanceSecret {
		t.Errorf("instance key %s: %q, %v", f.InstanceKeyID, secret, err)
	}
	icfg := sdktest.Config(hs.URL, f.InstanceKeyID, f.InstanceSecret)
	if _, err := ecssdk.NewFromConfig(icfg).DiscoverPollEndpoint(ctx, &ecssdk.DiscoverPollEndpointInput{Cluster: aws.String(f.ClusterARN), ContainerInstance: aws.String(f.InstanceARN)}); err != nil {
		t.Errorf("DiscoverPollEndpoint signed with the instance's key: %v", err)
	}

	cert := sdktest.Must(acmc.GetCertificate(ctx, &acmsdk.GetCertificateInput{CertificateArn: aws.String(f.CertificateARN)}))
	if strings.TrimSpace(aws.ToString(cert.Certificate)) != strings.TrimSpace(f.CertificatePEM) {
		t.Errorf("certificate %s: %q", f.CertificateARN, aws.ToString(cert.Certificate))
	}
	if out := sdktest.Must(elbc.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{f.LoadBalancerARN}})); len(out.LoadBalancers) != 1 {
		t.Errorf("load balancer %s", f.LoadBalancerARN)
	}
	if out := sdktest.Must(elbc.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{f.TargetGroupARN}})); len(out.TargetGroups) != 1 {
		t.Errorf("target group %s", f.TargetGroupARN)
	}
	if out := sdktest.Must(elbc.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{f.ListenerARN}})); len(out.Listeners) != 1 ||
		len(out.Listeners[0].Certificates) != 1 || aws.ToString(out.Listeners[0].Certificates[0].CertificateArn) != f.CertificateARN {
		t.Errorf("listener %s: %+v", f.ListenerARN, out.Listeners)
	}
	// The data plane gets the certificate with its key.
	lbcfg, _, err := elbdomain.BuildConfig(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(lbcfg.Certificates) != 1 || lbcfg.Certificates[0].ARN != f.CertificateARN {
		t.Fatalf("data plane certificates: %+v", lbcfg.Certificates)
	}
	m := lbcfg.Certificates[0]
	if _, err := tls.X509KeyPair([]byte(m.CertificatePEM), []byte(m.PrivateKeyPEM)); err != nil {
		t.Errorf("data plane key pair: %v", err)
	}
	return m.PrivateKeyPEM
}

// TestUpgradeInterrupted checks that a first start that sealed the
// plaintext records but stopped before the file was rid of them (a crash,
// a full disk during the vacuum) is finished by the next start.
func TestUpgradeInterrupted(t *testing.T) {
	var f fixture
	b, err := os.ReadFile(filepath.Join("testdata", "upgrade", "0.1.0", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data")
	copyDir(t, filepath.Join("testdata", "upgrade", "0.1.0", "data"), dataDir)
	keyFile := DefaultMasterKeyFile(dataDir)
	k, _, err := seal.LoadOrCreate(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bolt.Open(filepath.Join(dataDir, "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := seal.NewStore(raw, k, sealedPrefixes...).Migrate(ctx); err != nil || n == 0 {
		t.Fatalf("Migrate = %d, %v", n, err)
	}
	raw.Close()
	if b, _ := os.ReadFile(filepath.Join(dataDir, "state.db")); !bytes.Contains(b, []byte(f.InstanceSecret)) {
		t.Fatal("the setup left no plaintext behind: nothing to test")
	}

	st, _, err := openState(ctx, dataDir, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	checkFixture(t, st, f)
	st.Close()
	if b, _ := os.ReadFile(filepath.Join(dataDir, "state.db")); bytes.Contains(b, []byte(f.InstanceSecret)) {
		t.Fatal("the instance secret is still in state.db after the next start")
	}
}
