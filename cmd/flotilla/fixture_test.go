package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
	"github.com/flotilla/flotilla/internal/testcert"
	"github.com/flotilla/flotilla/internal/testport"
)

// writeFixture, when set, names the directory under testdata/upgrade that
// TestWriteUpgradeFixture fills with the data directory of the release
// being built: `go test ./cmd/flotilla -run TestWriteUpgradeFixture
// -write-fixture=0.1.0`. Do it once per release whose layout changed,
// before changing it, and check the directory in: TestUpgrade opens every
// fixture there with the code being built.
var writeFixture = flag.String("write-fixture", "", "write the upgrade fixture testdata/upgrade/NAME with this code")

// fixture is what a fixture's data directory holds, as the release that
// wrote it reported it: expected.json beside the data directory.
type fixture struct {
	Version         string `json:"version"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	ClusterARN      string `json:"clusterArn"`
	TaskDefARN      string `json:"taskDefinitionArn"`
	InstanceARN     string `json:"containerInstanceArn"`
	// InstanceKeyID and InstanceSecret are the instance's own
	// credentials, as the server stored them.
	InstanceKeyID   string `json:"instanceKeyId"`
	InstanceSecret  string `json:"instanceSecret"`
	CertificateARN  string `json:"certificateArn"`
	CertificatePEM  string `json:"certificatePem"`
	PrivateKeyPEM   string `json:"privateKeyPem"`
	LoadBalancerARN string `json:"loadBalancerArn"`
	TargetGroupARN  string `json:"targetGroupArn"`
	ListenerARN     string `json:"listenerArn"`
	ServiceARN      string `json:"serviceArn"`
}

// TestWriteUpgradeFixture writes an upgrade fixture when -write-fixture
// is given: a server of this code creates a cluster, a task definition, a
// container instance (with its credentials), an ACM certificate with its
// key, a load balancer, a target group, an HTTPS listener and a service,
// and its data directory is kept with what it reported. Without the flag
// it has nothing to do and passes.
func TestWriteUpgradeFixture(t *testing.T) {
	if *writeFixture == "" {
		return
	}
	dir := filepath.Join("testdata", "upgrade", *writeFixture)
	dataDir := filepath.Join(dir, "data")
	// A fixture is what a release wrote: never written again by later code.
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists: a fixture is kept as its release wrote it; name a new one", dir)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := DefaultConfig()
	cfg.DataDir = dataDir
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", testport.Free(t))
	cfg.LogLevel = "error"
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- NewMain(cfg, pw, os.Stderr).Run(ctx); pw.Close() }()
	env := map[string]string{}
	sc := bufio.NewScanner(pr)
	for env["AWS_ENDPOINT_URL"] == "" && sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			env[k] = v
		}
	}
	go io.Copy(io.Discard, pr)
	if env["AWS_ENDPOINT_URL"] == "" {
		t.Fatalf("server did not start: %v", <-done)
	}
	awsCfg := sdktest.Config(env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
	ecsc, elbc, acmc := ecssdk.NewFromConfig(awsCfg), elb.NewFromConfig(awsCfg), acmsdk.NewFromConfig(awsCfg)
	f := fixture{Version: flotilla.Version, AccessKeyID: env["AWS_ACCESS_KEY_ID"], SecretAccessKey: env["AWS_SECRET_ACCESS_KEY"]}

	f.ClusterARN = aws.ToString(sdktest.Must(ecsc.CreateCluster(ctx, &ecssdk.CreateClusterInput{ClusterName: aws.String("upgrade")})).Cluster.ClusterArn)
	f.TaskDefARN = aws.ToString(sdktest.Must(ecsc.RegisterTaskDefinition(ctx, &ecssdk.RegisterTaskDefinitionInput{
		Family: aws.String("web"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String("nginx:1.27"), Memory: aws.Int32(64),
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(80)}}}},
	})).TaskDefinition.TaskDefinitionArn)
	f.InstanceARN = aws.ToString(sdktest.Must(ecsc.RegisterContainerInstance(ctx, &ecssdk.RegisterContainerInstanceInput{
		Cluster: aws.String("upgrade"),
		TotalResources: []ecstypes.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 2048},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 4096},
		},
	})).ContainerInstance.ContainerInstanceArn)

	certPEM, keyPEM := testcert.SelfSigned(t, "upgrade.example")
	f.CertificatePEM, f.PrivateKeyPEM = string(certPEM), string(keyPEM)
	f.CertificateARN = aws.ToString(sdktest.Must(acmc.ImportCertificate(ctx, &acmsdk.ImportCertificateInput{Certificate: certPEM, PrivateKey: keyPEM})).CertificateArn)

	f.LoadBalancerARN = aws.ToString(sdktest.Must(elbc.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("upgrade")})).LoadBalancers[0].LoadBalancerArn)
	f.TargetGroupARN = aws.ToString(sdktest.Must(elbc.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name: aws.String("upgrade"), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-flotilla"),
	})).TargetGroups[0].TargetGroupArn)
	f.ListenerARN = aws.ToString(sdktest.Must(elbc.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(f.LoadBalancerARN), Protocol: elbtypes.ProtocolEnumHttps, Port: aws.Int32(int32(testport.Free(t))),
		Certificates:   []elbtypes.Certificate{{CertificateArn: aws.String(f.CertificateARN)}},
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(f.TargetGroupARN)}},
	})).Listeners[0].ListenerArn)
	f.ServiceARN = aws.ToString(sdktest.Must(ecsc.CreateService(ctx, &ecssdk.CreateServiceInput{
		Cluster: aws.String("upgrade"), ServiceName: aws.String("web"), TaskDefinition: aws.String(f.TaskDefARN), DesiredCount: aws.Int32(1),
		LoadBalancers: []ecstypes.LoadBalancer{{TargetGroupArn: aws.String(f.TargetGroupARN), ContainerName: aws.String("web"), ContainerPort: aws.Int32(80)}},
	})).Service.ServiceArn)

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}

	st, err := bolt.Open(filepath.Join(dataDir, "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kvs, _, err := st.List(context.Background(), "/ecs/instancekeys/", store.ListOptions{})
	if err != nil || len(kvs) != 1 {
		t.Fatalf("instance keys: %d, %v", len(kvs), err)
	}
	var k struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
	}
	if err := json.Unmarshal(kvs[0].Value, &k); err != nil {
		t.Fatal(err)
	}
	f.InstanceKeyID, f.InstanceSecret = k.AccessKeyID, k.SecretAccessKey
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// The store grows its file 16 MiB at a time: keep the live pages only.
	if err := bolt.Vacuum(filepath.Join(dataDir, "state.db")); err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "expected.json"), append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}
