package ecs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var (
	goldenNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// Task and instance IDs are random: the golden files hold ID.
	// So are EC2 instance IDs made up for instances that have none, and
	// deployment IDs.
	randomIDRE = regexp.MustCompile(`[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\bi-[0-9a-f]{17}\b|\b[0-9a-f]{20}\b`)
)

// TestGoldenResponses pins the whole body of every List and Describe
// response of ECS, on an empty account and on one with a cluster, an
// instance, a task definition, a service and a task that could not be
// placed: which members are sent, empty lists included, as ECS's
// documented example responses send them (the API Reference's and the aws
// CLI's: {"taskArns": []} on an empty cluster; "volumes": [],
// "placementConstraints": [] in a task definition; "loadBalancers": [],
// "events": [] in a service; "failures": [] beside what was found). Run
// with -update to rewrite testdata/golden after a reviewed change.
func TestGoldenResponses(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	placer := scheduler.NewPlacer(st, nil)
	svc := ecs.New(ecs.Config{Store: st, Account: flotilla.Account{Region: "us-east-1", ID: account}, Clock: func() time.Time { return goldenNow },
		Placer: placer})
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = svc.Run(runCtx) }()
	placed := make(chan struct{})
	go func() { defer close(placed); _ = placer.Run(runCtx) }()
	srv := api.NewServer(api.Config{Credentials: sigv4.StaticCredentials{testKey: testSecret}})
	srv.HandleJSON(svc.JSONService())
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); stop(); <-ran; <-placed; st.Close() })
	rec := &sdktest.Recorder{}
	c := sdk.New(sdk.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
		HTTPClient:  &http.Client{Transport: rec},
	})

	golden := func(name string, call func() error) {
		t.Helper()
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkGolden(t, name, rec.Last())
	}
	cl := aws.String("prod")

	// An empty account.
	golden("empty/ListClusters", func() error { _, err := c.ListClusters(ctx, &sdk.ListClustersInput{}); return err })
	golden("empty/DescribeClusters", func() error {
		_, err := c.DescribeClusters(ctx, &sdk.DescribeClustersInput{Clusters: []string{"ghost"}})
		return err
	})
	golden("empty/ListTaskDefinitions", func() error {
		_, err := c.ListTaskDefinitions(ctx, &sdk.ListTaskDefinitionsInput{})
		return err
	})
	golden("empty/ListTaskDefinitionFamilies", func() error {
		_, err := c.ListTaskDefinitionFamilies(ctx, &sdk.ListTaskDefinitionFamiliesInput{})
		return err
	})
	golden("empty/ListAccountSettings", func() error {
		_, err := c.ListAccountSettings(ctx, &sdk.ListAccountSettingsInput{})
		return err
	})

	// An empty cluster.
	sdktest.Must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: cl}))
	golden("empty/ListTasks", func() error { _, err := c.ListTasks(ctx, &sdk.ListTasksInput{Cluster: cl}); return err })
	golden("empty/ListServices", func() error { _, err := c.ListServices(ctx, &sdk.ListServicesInput{Cluster: cl}); return err })
	golden("empty/ListContainerInstances", func() error {
		_, err := c.ListContainerInstances(ctx, &sdk.ListContainerInstancesInput{Cluster: cl})
		return err
	})
	golden("empty/ListAttributes", func() error {
		_, err := c.ListAttributes(ctx, &sdk.ListAttributesInput{Cluster: cl, TargetType: types.TargetTypeContainerInstance})
		return err
	})
	golden("empty/ListTagsForResource", func() error {
		_, err := c.ListTagsForResource(ctx, &sdk.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecs:us-east-1:" + account + ":cluster/prod")})
		return err
	})
	golden("empty/DescribeTasks", func() error {
		_, err := c.DescribeTasks(ctx, &sdk.DescribeTasksInput{Cluster: cl, Tasks: []string{"0123456789abcdef0123456789abcdef"}})
		return err
	})
	golden("empty/DescribeServices", func() error {
		_, err := c.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: cl, Services: []string{"ghost"}})
		return err
	})
	golden("empty/DescribeContainerInstances", func() error {
		_, err := c.DescribeContainerInstances(ctx, &sdk.DescribeContainerInstancesInput{Cluster: cl, ContainerInstances: []string{"0123456789abcdef0123456789abcdef"}})
		return err
	})
	golden("empty/RunTask", func() error {
		sdktest.Must(c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"),
			ContainerDefinitions: []types.ContainerDefinition{container("web", 64)}}))
		_, err := c.RunTask(ctx, &sdk.RunTaskInput{Cluster: cl, TaskDefinition: aws.String("web")})
		return err
	})

	// A cluster with an instance, a service and its task definition.
	reg := sdktest.Must(c.RegisterContainerInstance(ctx, &sdk.RegisterContainerInstanceInput{Cluster: cl,
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 1024},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 2048},
		}}))
	instance := aws.ToString(reg.ContainerInstance.ContainerInstanceArn)
	sdktest.Must(c.CreateService(ctx, &sdk.CreateServiceInput{Cluster: cl, ServiceName: aws.String("api"),
		TaskDefinition: aws.String("web:1"), DesiredCount: aws.Int32(0)}))
	golden("full/ListClusters", func() error { _, err := c.ListClusters(ctx, &sdk.ListClustersInput{}); return err })
	golden("full/DescribeClusters", func() error {
		_, err := c.DescribeClusters(ctx, &sdk.DescribeClustersInput{Clusters: []string{"prod"}})
		return err
	})
	golden("full/ListTaskDefinitions", func() error {
		_, err := c.ListTaskDefinitions(ctx, &sdk.ListTaskDefinitionsInput{})
		return err
	})
	golden("full/ListTaskDefinitionFamilies", func() error {
		_, err := c.ListTaskDefinitionFamilies(ctx, &sdk.ListTaskDefinitionFamiliesInput{})
		return err
	})
	golden("full/DescribeTaskDefinition", func() error {
		_, err := c.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:1")})
		return err
	})
	golden("full/ListContainerInstances", func() error {
		_, err := c.ListContainerInstances(ctx, &sdk.ListContainerInstancesInput{Cluster: cl})
		return err
	})
	golden("full/DescribeContainerInstances", func() error {
		_, err := c.DescribeContainerInstances(ctx, &sdk.DescribeContainerInstancesInput{Cluster: cl, ContainerInstances: []string{instance}})
		return err
	})
	golden("full/ListServices", func() error { _, err := c.ListServices(ctx, &sdk.ListServicesInput{Cluster: cl}); return err })
	golden("full/DescribeServices", func() error {
		_, err := c.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: cl, Services: []string{"api"}})
		return err
	})
	golden("full/ListServiceDeployments", func() error {
		_, err := c.ListServiceDeployments(ctx, &sdk.ListServiceDeploymentsInput{Cluster: cl, Service: aws.String("api")})
		return err
	})
	golden("full/DescribeServiceDeployments", func() error {
		list, err := c.ListServiceDeployments(ctx, &sdk.ListServiceDeploymentsInput{Cluster: cl, Service: aws.String("api")})
		if err != nil {
			return err
		}
		_, err = c.DescribeServiceDeployments(ctx, &sdk.DescribeServiceDeploymentsInput{
			ServiceDeploymentArns: []string{aws.ToString(list.ServiceDeployments[0].ServiceDeploymentArn)}})
		return err
	})
	golden("full/ListAttributes", func() error {
		_, err := c.ListAttributes(ctx, &sdk.ListAttributesInput{Cluster: cl, TargetType: types.TargetTypeContainerInstance})
		return err
	})
}

// checkGolden compares body, normalized (IDs) and indented, with
// testdata/golden/name.json, or writes it there with -update.
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, randomIDRE.ReplaceAll(body, []byte("ID")), "", "  "); err != nil {
		t.Fatalf("%s: response is not JSON: %v: %s", name, err, body)
	}
	out.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run with -update to create it)", name, err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("%s differs from %s:\n%s", name, path, out.Bytes())
	}
}
