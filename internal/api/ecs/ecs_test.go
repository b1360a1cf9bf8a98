package ecs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

const (
	testKey    = "AKIAFLOTILLATEST0001"
	testSecret = "c2VjcmV0LWZvci10ZXN0cy1vbmx5LW5vdC1yZWFs"
	account    = "123456789012"
)

// newClient starts a real server (bbolt file, SigV4, HTTP on 127.0.0.1) and
// returns an aws-sdk-go-v2 ECS client for it.
func newClient(t testing.TB) *sdk.Client {
	t.Helper()
	return sdkClient(startServer(t))
}

// startServer starts the real server stack and returns its URL.
func startServer(t testing.TB) string {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(api.Config{Credentials: sigv4.StaticCredentials{testKey: testSecret}})
	srv.HandleJSON(ecs.New(ecs.Config{Store: st, Account: flotilla.Account{Region: "us-east-1", ID: account}}).JSONService())
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); st.Close() })
	return ts.URL
}

func sdkClient(url string) *sdk.Client {
	return sdk.New(sdk.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(benchKey, benchSecret, ""),
	})
}

// errCode returns the AWS error code of err, or "" for nil.
func errCode(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("not an API error: %v", err)
	}
	return ae.ErrorCode()
}

// must returns v, failing the test that calls the result when err is set:
// must(c.Op(ctx, in))(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

var ctx = context.Background()

func container(name string, mem int32) types.ContainerDefinition {
	return types.ContainerDefinition{Name: aws.String(name), Image: aws.String("busybox"), Memory: aws.Int32(mem)}
}

func TestClusters(t *testing.T) {
	c := newClient(t)
	out := must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("demo"),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}}))(t)
	if aws.ToString(out.Cluster.ClusterArn) != "arn:aws:ecs:us-east-1:"+account+":cluster/demo" || aws.ToString(out.Cluster.Status) != "ACTIVE" {
		t.Fatalf("create: %+v", out.Cluster)
	}
	again := must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("demo")}))(t)
	if aws.ToString(again.Cluster.ClusterArn) != aws.ToString(out.Cluster.ClusterArn) {
		t.Fatalf("second create returned another cluster: %+v", again.Cluster)
	}
	def := must(c.CreateCluster(ctx, &sdk.CreateClusterInput{}))(t)
	if aws.ToString(def.Cluster.ClusterName) != "default" {
		t.Fatalf("create without a name: %q", aws.ToString(def.Cluster.ClusterName))
	}

	d := must(c.DescribeClusters(ctx, &sdk.DescribeClustersInput{
		Clusters: []string{"demo", "arn:aws:ecs:us-east-1:" + account + ":cluster/demo", "ghost"},
		Include:  []types.ClusterField{types.ClusterFieldTags, types.ClusterFieldSettings, types.ClusterFieldStatistics}}))(t)
	if len(d.Clusters) != 2 || len(d.Failures) != 1 || aws.ToString(d.Failures[0].Reason) != "MISSING" {
		t.Fatalf("describe: %d clusters, failures %+v", len(d.Clusters), d.Failures)
	}
	if len(d.Clusters[0].Tags) != 1 || len(d.Clusters[0].Settings) != 1 || len(d.Clusters[0].Statistics) == 0 {
		t.Fatalf("describe with include: %+v", d.Clusters[0])
	}
	plain := must(c.DescribeClusters(ctx, &sdk.DescribeClustersInput{Clusters: []string{"demo"}}))(t)
	if len(plain.Clusters[0].Tags) != 0 || plain.Clusters[0].Settings != nil {
		t.Fatalf("describe without include shows tags or settings: %+v", plain.Clusters[0])
	}

	for i := 0; i < 5; i++ {
		must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String(fmt.Sprintf("p%d", i))}))(t)
	}
	var arns []string
	pager := sdk.NewListClustersPaginator(c, &sdk.ListClustersInput{MaxResults: aws.Int32(2)})
	for pager.HasMorePages() {
		page := must(pager.NextPage(ctx))(t)
		if len(page.ClusterArns) > 2 {
			t.Fatalf("page of %d with maxResults 2", len(page.ClusterArns))
		}
		arns = append(arns, page.ClusterArns...)
	}
	if len(arns) != 7 {
		t.Fatalf("paginated list: %d clusters, want 7: %v", len(arns), arns)
	}
	_, err := c.ListClusters(ctx, &sdk.ListClustersInput{MaxResults: aws.Int32(101)})
	if code := errCode(t, err); code != "InvalidParameterException" {
		t.Fatalf("maxResults 101: %v", err)
	}
	_, err = c.ListClusters(ctx, &sdk.ListClustersInput{NextToken: aws.String("garbage!")})
	if code := errCode(t, err); code != "InvalidParameterException" {
		t.Fatalf("bad nextToken: %v", err)
	}

	_, err = c.UpdateClusterSettings(ctx, &sdk.UpdateClusterSettingsInput{Cluster: aws.String("demo"),
		Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("sometimes")}}})
	if code := errCode(t, err); code != "InvalidParameterException" {
		t.Fatalf("bad setting value: %v", err)
	}
	up := must(c.UpdateClusterSettings(ctx, &sdk.UpdateClusterSettingsInput{Cluster: aws.String("demo"),
		Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}}}))(t)
	if len(up.Cluster.Settings) != 1 || aws.ToString(up.Cluster.Settings[0].Value) != "enabled" {
		t.Fatalf("update settings: %+v", up.Cluster.Settings)
	}
	_, err = c.UpdateCluster(ctx, &sdk.UpdateClusterInput{Cluster: aws.String("ghost")})
	if code := errCode(t, err); code != "ClusterNotFoundException" {
		t.Fatalf("update missing cluster: %v", err)
	}
	cp := must(c.PutClusterCapacityProviders(ctx, &sdk.PutClusterCapacityProvidersInput{Cluster: aws.String("demo"),
		CapacityProviders:               []string{"FARGATE"},
		DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE"), Weight: 1}}}))(t)
	if len(cp.Cluster.CapacityProviders) != 1 || len(cp.Cluster.DefaultCapacityProviderStrategy) != 1 {
		t.Fatalf("capacity providers: %+v", cp.Cluster)
	}
	_, err = c.PutClusterCapacityProviders(ctx, &sdk.PutClusterCapacityProvidersInput{Cluster: aws.String("demo"),
		CapacityProviders: []string{"nope"}, DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{}})
	if code := errCode(t, err); code != "InvalidParameterException" {
		t.Fatalf("unknown capacity provider: %v", err)
	}

	// An instance keeps the cluster from being deleted.
	reg := must(c.RegisterContainerInstance(ctx, &sdk.RegisterContainerInstanceInput{Cluster: aws.String("demo")}))(t)
	_, err = c.DeleteCluster(ctx, &sdk.DeleteClusterInput{Cluster: aws.String("demo")})
	if code := errCode(t, err); code != "ClusterContainsContainerInstancesException" {
		t.Fatalf("delete with an instance: %v", err)
	}
	must(c.DeregisterContainerInstance(ctx, &sdk.DeregisterContainerInstanceInput{Cluster: aws.String("demo"),
		ContainerInstance: reg.ContainerInstance.ContainerInstanceArn}))(t)
	del := must(c.DeleteCluster(ctx, &sdk.DeleteClusterInput{Cluster: aws.String("demo")}))(t)
	if aws.ToString(del.Cluster.Status) != "INACTIVE" {
		t.Fatalf("delete: %+v", del.Cluster)
	}
	gone := must(c.DescribeClusters(ctx, &sdk.DescribeClustersInput{Clusters: []string{"demo"}}))(t)
	if len(gone.Clusters) != 1 || aws.ToString(gone.Clusters[0].Status) != "INACTIVE" {
		t.Fatalf("describe deleted: %+v", gone)
	}
	_, err = c.DeleteCluster(ctx, &sdk.DeleteClusterInput{Cluster: aws.String("demo")})
	if code := errCode(t, err); code != "ClusterNotFoundException" {
		t.Fatalf("delete twice: %v", err)
	}
	list := must(c.ListClusters(ctx, &sdk.ListClustersInput{}))(t)
	if len(list.ClusterArns) != 6 {
		t.Fatalf("list after delete: %v", list.ClusterArns)
	}
	back := must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("demo")}))(t)
	if aws.ToString(back.Cluster.Status) != "ACTIVE" {
		t.Fatalf("recreate: %+v", back.Cluster)
	}
}

func TestRegisterTaskDefinitionRules(t *testing.T) {
	c := newClient(t)
	ok := func(mutate func(*sdk.RegisterTaskDefinitionInput)) *sdk.RegisterTaskDefinitionInput {
		in := &sdk.RegisterTaskDefinitionInput{Family: aws.String("app"), ContainerDefinitions: []types.ContainerDefinition{container("web", 64)}}
		mutate(in)
		return in
	}
	tests := []struct {
		name string
		in   *sdk.RegisterTaskDefinitionInput
		code string
	}{
		{"valid", ok(func(*sdk.RegisterTaskDefinitionInput) {}), ""},
		{"bad family", ok(func(in *sdk.RegisterTaskDefinitionInput) { in.Family = aws.String("no spaces") }), "ClientException"},
		{"no containers", ok(func(in *sdk.RegisterTaskDefinitionInput) { in.ContainerDefinitions = []types.ContainerDefinition{} }), "ClientException"},
		{"eleven containers", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions = nil
			for i := 0; i < 11; i++ {
				in.ContainerDefinitions = append(in.ContainerDefinitions, container(fmt.Sprintf("c%d", i), 16))
			}
		}), "ClientException"},
		{"duplicate names", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions = []types.ContainerDefinition{container("a", 16), container("a", 16)}
		}), "ClientException"},
		{"no essential", ok(func(in *sdk.RegisterTaskDefinitionInput) { in.ContainerDefinitions[0].Essential = aws.Bool(false) }), "ClientException"},
		{"no memory", ok(func(in *sdk.RegisterTaskDefinitionInput) { in.ContainerDefinitions[0].Memory = nil }), "ClientException"},
		{"reservation only", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions[0].Memory = nil
			in.ContainerDefinitions[0].MemoryReservation = aws.Int32(32)
		}), ""},
		{"memory below reservation", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions[0].MemoryReservation = aws.Int32(128)
		}), "ClientException"},
		{"memory too small", ok(func(in *sdk.RegisterTaskDefinitionInput) { in.ContainerDefinitions[0].Memory = aws.Int32(4) }), "ClientException"},
		{"task memory instead", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions[0].Memory = nil
			in.Memory = aws.String("0.5 GB")
		}), ""},
		{"no image", ok(func(in *sdk.RegisterTaskDefinitionInput) { in.ContainerDefinitions[0].Image = nil }), "ClientException"},
		{"host port differs in host mode", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.NetworkMode = types.NetworkModeHost
			in.ContainerDefinitions[0].PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(80), HostPort: aws.Int32(8080)}}
		}), "ClientException"},
		{"ports with network none", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.NetworkMode = types.NetworkModeNone
			in.ContainerDefinitions[0].PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(80)}}
		}), "ClientException"},
		{"duplicate host port", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions = []types.ContainerDefinition{container("a", 16), container("b", 16)}
			in.ContainerDefinitions[0].PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(80), HostPort: aws.Int32(8080)}}
			in.ContainerDefinitions[1].PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(81), HostPort: aws.Int32(8080)}}
		}), "ClientException"},
		{"health check interval", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions[0].HealthCheck = &types.HealthCheck{Command: []string{"CMD", "true"}, Interval: aws.Int32(1)}
		}), "ClientException"},
		{"health check retries", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions[0].HealthCheck = &types.HealthCheck{Command: []string{"CMD", "true"}, Retries: aws.Int32(11)}
		}), "ClientException"},
		{"unknown dependency", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions[0].DependsOn = []types.ContainerDependency{{ContainerName: aws.String("ghost"), Condition: types.ContainerConditionStart}}
		}), "ClientException"},
		{"undefined volume", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.ContainerDefinitions[0].MountPoints = []types.MountPoint{{SourceVolume: aws.String("data"), ContainerPath: aws.String("/data")}}
		}), "ClientException"},
		{"bad task cpu", ok(func(in *sdk.RegisterTaskDefinitionInput) { in.Cpu = aws.String("lots") }), "ClientException"},
		{"containers exceed task memory", ok(func(in *sdk.RegisterTaskDefinitionInput) { in.Memory = aws.String("32") }), "ClientException"},
		{"fargate needs awsvpc", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.RequiresCompatibilities = []types.Compatibility{types.CompatibilityFargate}
			in.Cpu, in.Memory = aws.String("256"), aws.String("512")
		}), "ClientException"},
		{"reserved tag", ok(func(in *sdk.RegisterTaskDefinitionInput) {
			in.Tags = []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("y")}}
		}), "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.RegisterTaskDefinition(ctx, tt.in)
			if got := errCode(t, err); got != tt.code {
				t.Fatalf("got %q (%v), want %q", got, err, tt.code)
			}
		})
	}

	// Defaults and normalisation.
	out := must(c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{
		Family: aws.String("norm"), Cpu: aws.String("1 vCPU"), Memory: aws.String("2 GB"), NetworkMode: types.NetworkModeHost,
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("web"), Image: aws.String("busybox"),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
			HealthCheck:  &types.HealthCheck{Command: []string{"CMD-SHELL", "true"}}}},
	}))(t)
	td := out.TaskDefinition
	if aws.ToString(td.Cpu) != "1024" || aws.ToString(td.Memory) != "2048" {
		t.Fatalf("cpu/memory not normalised: %q %q", aws.ToString(td.Cpu), aws.ToString(td.Memory))
	}
	cd := td.ContainerDefinitions[0]
	if !aws.ToBool(cd.Essential) || aws.ToInt32(cd.PortMappings[0].HostPort) != 8080 || cd.PortMappings[0].Protocol != types.TransportProtocolTcp {
		t.Fatalf("container defaults: %+v", cd)
	}
	if hc := cd.HealthCheck; aws.ToInt32(hc.Interval) != 30 || aws.ToInt32(hc.Timeout) != 5 || aws.ToInt32(hc.Retries) != 3 {
		t.Fatalf("health check defaults: %+v", hc)
	}
	if td.RegisteredAt == nil || aws.ToString(td.RegisteredBy) != "arn:aws:iam::"+account+":root" {
		t.Fatalf("registeredAt/By: %v %v", td.RegisteredAt, aws.ToString(td.RegisteredBy))
	}
}

func TestTaskDefinitionLifecycle(t *testing.T) {
	c := newClient(t)
	for _, fam := range []string{"web", "web", "web", "api"} {
		must(c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String(fam),
			ContainerDefinitions: []types.ContainerDefinition{container("c", 32)},
			Tags:                 []types.Tag{{Key: aws.String("fam"), Value: aws.String(fam)}}}))(t)
	}
	for ref, want := range map[string]int32{
		"web": 3, "web:2": 2, "arn:aws:ecs:us-east-1:" + account + ":task-definition/web:1": 1, "api": 1,
	} {
		d := must(c.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)}))(t)
		if d.TaskDefinition.Revision != want {
			t.Fatalf("describe %s: revision %d, want %d", ref, d.TaskDefinition.Revision, want)
		}
	}
	_, err := c.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:9")})
	if code := errCode(t, err); code != "ClientException" {
		t.Fatalf("describe missing revision: %v", err)
	}
	tagged := must(c.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String("api"), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}}))(t)
	if len(tagged.Tags) != 1 {
		t.Fatalf("describe with TAGS: %+v", tagged.Tags)
	}

	_, err = c.DeleteTaskDefinitions(ctx, &sdk.DeleteTaskDefinitionsInput{TaskDefinitions: []string{"web:3"}})
	if err != nil {
		t.Fatal(err)
	}
	dl := must(c.DeleteTaskDefinitions(ctx, &sdk.DeleteTaskDefinitionsInput{TaskDefinitions: []string{"web:3"}}))(t)
	if len(dl.Failures) != 1 || len(dl.TaskDefinitions) != 0 {
		t.Fatalf("deleting an ACTIVE revision: %+v", dl)
	}
	_, err = c.DeregisterTaskDefinition(ctx, &sdk.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web")})
	if code := errCode(t, err); code != "InvalidParameterException" {
		t.Fatalf("deregister without revision: %v", err)
	}
	dr := must(c.DeregisterTaskDefinition(ctx, &sdk.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web:3")}))(t)
	if dr.TaskDefinition.Status != types.TaskDefinitionStatusInactive || dr.TaskDefinition.DeregisteredAt == nil {
		t.Fatalf("deregister: %+v", dr.TaskDefinition)
	}
	latest := must(c.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")}))(t)
	if latest.TaskDefinition.Revision != 2 {
		t.Fatalf("latest ACTIVE after deregistering 3: %d", latest.TaskDefinition.Revision)
	}
	dl = must(c.DeleteTaskDefinitions(ctx, &sdk.DeleteTaskDefinitionsInput{TaskDefinitions: []string{"web:3", "ghost:1"}}))(t)
	if len(dl.TaskDefinitions) != 1 || dl.TaskDefinitions[0].Status != types.TaskDefinitionStatusDeleteInProgress || len(dl.Failures) != 1 {
		t.Fatalf("delete INACTIVE: %+v", dl)
	}

	asc := must(c.ListTaskDefinitions(ctx, &sdk.ListTaskDefinitionsInput{}))(t)
	desc := must(c.ListTaskDefinitions(ctx, &sdk.ListTaskDefinitionsInput{Sort: types.SortOrderDesc}))(t)
	if len(asc.TaskDefinitionArns) != 3 || asc.TaskDefinitionArns[0] != desc.TaskDefinitionArns[2] {
		t.Fatalf("list asc %v desc %v", asc.TaskDefinitionArns, desc.TaskDefinitionArns)
	}
	var paged []string
	pager := sdk.NewListTaskDefinitionsPaginator(c, &sdk.ListTaskDefinitionsInput{Sort: types.SortOrderDesc, MaxResults: aws.Int32(1)})
	for pager.HasMorePages() {
		paged = append(paged, must(pager.NextPage(ctx))(t).TaskDefinitionArns...)
	}
	if fmt.Sprint(paged) != fmt.Sprint(desc.TaskDefinitionArns) {
		t.Fatalf("paged desc %v, want %v", paged, desc.TaskDefinitionArns)
	}
	onlyWeb := must(c.ListTaskDefinitions(ctx, &sdk.ListTaskDefinitionsInput{FamilyPrefix: aws.String("web")}))(t)
	if len(onlyWeb.TaskDefinitionArns) != 2 {
		t.Fatalf("familyPrefix web: %v", onlyWeb.TaskDefinitionArns)
	}
	del := must(c.ListTaskDefinitions(ctx, &sdk.ListTaskDefinitionsInput{Status: types.TaskDefinitionStatusDeleteInProgress}))(t)
	if len(del.TaskDefinitionArns) != 1 {
		t.Fatalf("DELETE_IN_PROGRESS list: %v", del.TaskDefinitionArns)
	}

	must(c.DeregisterTaskDefinition(ctx, &sdk.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("api:1")}))(t)
	for status, want := range map[types.TaskDefinitionFamilyStatus]string{
		"": "[web]", types.TaskDefinitionFamilyStatusInactive: "[api]", types.TaskDefinitionFamilyStatusAll: "[api web]",
	} {
		f := must(c.ListTaskDefinitionFamilies(ctx, &sdk.ListTaskDefinitionFamiliesInput{Status: status}))(t)
		if fmt.Sprint(f.Families) != want {
			t.Fatalf("families %q: %v, want %s", status, f.Families, want)
		}
	}
}

// TestConcurrentRegistrations checks that revisions are unique and dense
// under concurrent writers (compare-and-swap on the family counter).
func TestConcurrentRegistrations(t *testing.T) {
	c := newClient(t)
	const n = 40
	revs := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("race"),
				ContainerDefinitions: []types.ContainerDefinition{container("c", 32)}})
			if err != nil {
				t.Error(err)
				return
			}
			revs[i] = int(out.TaskDefinition.Revision)
		}()
	}
	wg.Wait()
	sort.Ints(revs)
	for i, r := range revs {
		if r != i+1 {
			t.Fatalf("revisions %v are not 1..%d", revs, n)
		}
	}
}

func TestContainerInstancesAttributesTags(t *testing.T) {
	c := newClient(t)
	_, err := c.RegisterContainerInstance(ctx, &sdk.RegisterContainerInstanceInput{Cluster: aws.String("nope")})
	if code := errCode(t, err); code != "ClientException" {
		t.Fatalf("register in a missing cluster: %v", err)
	}
	must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("prod")}))(t)
	reg := must(c.RegisterContainerInstance(ctx, &sdk.RegisterContainerInstanceInput{
		Cluster: aws.String("prod"),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 2048},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 3800},
		},
		Attributes:  []types.Attribute{{Name: aws.String("ecs.availability-zone"), Value: aws.String("us-east-1a")}},
		VersionInfo: &types.VersionInfo{AgentVersion: aws.String("1.0.0"), DockerVersion: aws.String("20.10")},
		Tags:        []types.Tag{{Key: aws.String("rack"), Value: aws.String("r1")}},
	}))(t)
	ci := reg.ContainerInstance
	arn := aws.ToString(ci.ContainerInstanceArn)
	if aws.ToString(ci.Status) != "ACTIVE" || len(ci.RegisteredResources) != 4 {
		t.Fatalf("register: %+v", ci)
	}
	for _, r := range ci.RegisteredResources {
		if aws.ToString(r.Name) == "PORTS" && len(r.StringSetValue) != 6 {
			t.Fatalf("default reserved ports: %v", r.StringSetValue)
		}
	}
	_, err = c.RegisterContainerInstance(ctx, &sdk.RegisterContainerInstanceInput{Cluster: aws.String("prod"),
		TotalResources: []types.Resource{{Name: aws.String("CPU"), Type: aws.String("STRINGSET")}}})
	if code := errCode(t, err); code != "InvalidParameterException" {
		t.Fatalf("bad resource type: %v", err)
	}
	again := must(c.RegisterContainerInstance(ctx, &sdk.RegisterContainerInstanceInput{Cluster: aws.String("prod"), ContainerInstanceArn: aws.String(arn)}))(t)
	if aws.ToString(again.ContainerInstance.ContainerInstanceArn) != arn || again.ContainerInstance.Version != 2 {
		t.Fatalf("re-register: %+v", again.ContainerInstance)
	}

	id := arn[len(arn)-32:]
	d := must(c.DescribeContainerInstances(ctx, &sdk.DescribeContainerInstancesInput{Cluster: aws.String("prod"),
		ContainerInstances: []string{id, arn, "0123456789abcdef0123456789abcdef"}, Include: []types.ContainerInstanceField{types.ContainerInstanceFieldTags}}))(t)
	if len(d.ContainerInstances) != 2 || len(d.Failures) != 1 || len(d.ContainerInstances[0].Tags) != 1 {
		t.Fatalf("describe: %+v", d)
	}

	must(c.PutAttributes(ctx, &sdk.PutAttributesInput{Cluster: aws.String("prod"), Attributes: []types.Attribute{
		{Name: aws.String("stack"), Value: aws.String("blue"), TargetId: aws.String(arn)},
		{Name: aws.String("gpu"), TargetId: aws.String(id), TargetType: types.TargetTypeContainerInstance},
	}}))(t)
	la := must(c.ListAttributes(ctx, &sdk.ListAttributesInput{Cluster: aws.String("prod"), TargetType: types.TargetTypeContainerInstance,
		AttributeName: aws.String("stack"), AttributeValue: aws.String("blue")}))(t)
	if len(la.Attributes) != 1 || aws.ToString(la.Attributes[0].TargetId) != arn {
		t.Fatalf("list attributes: %+v", la.Attributes)
	}
	_, err = c.PutAttributes(ctx, &sdk.PutAttributesInput{Cluster: aws.String("prod"), Attributes: []types.Attribute{
		{Name: aws.String("x"), TargetId: aws.String("0123456789abcdef0123456789abcdef")}}})
	if code := errCode(t, err); code != "TargetNotFoundException" {
		t.Fatalf("put on a missing target: %v", err)
	}
	var many []types.Attribute
	for i := 0; i < 10; i++ {
		many = append(many, types.Attribute{Name: aws.String(fmt.Sprintf("custom%d", i)), TargetId: aws.String(arn)})
	}
	_, err = c.PutAttributes(ctx, &sdk.PutAttributesInput{Cluster: aws.String("prod"), Attributes: many})
	if code := errCode(t, err); code != "AttributeLimitExceededException" {
		t.Fatalf("12 custom attributes: %v", err)
	}
	must(c.DeleteAttributes(ctx, &sdk.DeleteAttributesInput{Cluster: aws.String("prod"), Attributes: []types.Attribute{{Name: aws.String("gpu"), TargetId: aws.String(arn)}}}))(t)
	all := must(c.ListAttributes(ctx, &sdk.ListAttributesInput{Cluster: aws.String("prod"), TargetType: types.TargetTypeContainerInstance}))(t)
	if len(all.Attributes) != 2 { // ecs.availability-zone and stack
		t.Fatalf("attributes after delete: %+v", all.Attributes)
	}

	drain := must(c.UpdateContainerInstancesState(ctx, &sdk.UpdateContainerInstancesStateInput{Cluster: aws.String("prod"),
		ContainerInstances: []string{arn, "0123456789abcdef0123456789abcdef"}, Status: types.ContainerInstanceStatusDraining}))(t)
	if len(drain.ContainerInstances) != 1 || aws.ToString(drain.ContainerInstances[0].Status) != "DRAINING" || len(drain.Failures) != 1 {
		t.Fatalf("drain: %+v", drain)
	}
	_, err = c.UpdateContainerInstancesState(ctx, &sdk.UpdateContainerInstancesStateInput{Cluster: aws.String("prod"),
		ContainerInstances: []string{arn}, Status: types.ContainerInstanceStatusRegistering})
	if code := errCode(t, err); code != "InvalidParameterException" {
		t.Fatalf("set REGISTERING: %v", err)
	}
	l := must(c.ListContainerInstances(ctx, &sdk.ListContainerInstancesInput{Cluster: aws.String("prod"), Status: types.ContainerInstanceStatusActive}))(t)
	if len(l.ContainerInstanceArns) != 0 {
		t.Fatalf("ACTIVE list while draining: %v", l.ContainerInstanceArns)
	}
	l = must(c.ListContainerInstances(ctx, &sdk.ListContainerInstancesInput{Cluster: aws.String("prod")}))(t)
	if len(l.ContainerInstanceArns) != 1 {
		t.Fatalf("default list: %v", l.ContainerInstanceArns)
	}
	for filter, want := range map[string]int{
		"attribute:stack == blue":                                     1,
		"attribute:stack == green":                                    0,
		"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]": 1,
		"not(attribute:stack exists)":                                 0,
	} {
		l = must(c.ListContainerInstances(ctx, &sdk.ListContainerInstancesInput{Cluster: aws.String("prod"), Filter: aws.String(filter)}))(t)
		if len(l.ContainerInstanceArns) != want {
			t.Fatalf("filter %q: %v, want %d", filter, l.ContainerInstanceArns, want)
		}
	}
	_, err = c.ListContainerInstances(ctx, &sdk.ListContainerInstancesInput{Cluster: aws.String("prod"), Filter: aws.String("attribute:stack == ")})
	if code := errCode(t, err); code != "InvalidParameterException" {
		t.Fatalf("malformed filter: %v", err)
	}

	// Tags on every taggable resource.
	clusterARN := "arn:aws:ecs:us-east-1:" + account + ":cluster/prod"
	td := must(c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("t"), ContainerDefinitions: []types.ContainerDefinition{container("c", 32)}}))(t)
	for _, res := range []string{clusterARN, arn, aws.ToString(td.TaskDefinition.TaskDefinitionArn)} {
		must(c.TagResource(ctx, &sdk.TagResourceInput{ResourceArn: aws.String(res), Tags: []types.Tag{
			{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}}))(t)
		must(c.UntagResource(ctx, &sdk.UntagResourceInput{ResourceArn: aws.String(res), TagKeys: []string{"b"}}))(t)
		lt := must(c.ListTagsForResource(ctx, &sdk.ListTagsForResourceInput{ResourceArn: aws.String(res)}))(t)
		found := false
		for _, tg := range lt.Tags {
			if aws.ToString(tg.Key) == "b" {
				t.Fatalf("%s: tag b still there", res)
			}
			found = found || aws.ToString(tg.Key) == "a"
		}
		if !found {
			t.Fatalf("%s: tag a missing: %+v", res, lt.Tags)
		}
	}
	_, err = c.TagResource(ctx, &sdk.TagResourceInput{ResourceArn: aws.String("arn:aws:ecs:us-east-1:" + account + ":cluster/ghost"),
		Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}})
	if code := errCode(t, err); code != "ClusterNotFoundException" {
		t.Fatalf("tag a missing cluster: %v", err)
	}
	_, err = c.TagResource(ctx, &sdk.TagResourceInput{ResourceArn: aws.String("not-an-arn"), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}})
	if code := errCode(t, err); code != "InvalidParameterException" {
		t.Fatalf("tag a bad ARN: %v", err)
	}
}

func TestAccountSettings(t *testing.T) {
	c := newClient(t)
	eff := must(c.ListAccountSettings(ctx, &sdk.ListAccountSettingsInput{EffectiveSettings: true, Name: types.SettingNameContainerInsights}))(t)
	if len(eff.Settings) != 1 || aws.ToString(eff.Settings[0].Value) != "disabled" || eff.Settings[0].Type != types.SettingTypeAwsManaged {
		t.Fatalf("default containerInsights: %+v", eff.Settings)
	}
	must(c.PutAccountSettingDefault(ctx, &sdk.PutAccountSettingDefaultInput{Name: types.SettingNameContainerInsights, Value: aws.String("enabled")}))(t)
	cl := must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("insightful")}))(t)
	if len(cl.Cluster.Settings) != 1 || aws.ToString(cl.Cluster.Settings[0].Value) != "enabled" {
		t.Fatalf("cluster does not inherit the account default: %+v", cl.Cluster.Settings)
	}
	role := "arn:aws:iam::" + account + ":role/deployer"
	must(c.PutAccountSetting(ctx, &sdk.PutAccountSettingInput{Name: types.SettingNameContainerInsights, Value: aws.String("disabled"), PrincipalArn: aws.String(role)}))(t)
	own := must(c.ListAccountSettings(ctx, &sdk.ListAccountSettingsInput{PrincipalArn: aws.String(role)}))(t)
	if len(own.Settings) != 1 || aws.ToString(own.Settings[0].Value) != "disabled" {
		t.Fatalf("role's own settings: %+v", own.Settings)
	}
	var names []string
	pager := sdk.NewListAccountSettingsPaginator(c, &sdk.ListAccountSettingsInput{EffectiveSettings: true, MaxResults: 3})
	for pager.HasMorePages() {
		for _, s := range must(pager.NextPage(ctx))(t).Settings {
			names = append(names, string(s.Name))
		}
	}
	if len(names) != len(flotilla.AccountSettingNames()) {
		t.Fatalf("effective settings: %v", names)
	}
	must(c.DeleteAccountSetting(ctx, &sdk.DeleteAccountSettingInput{Name: types.SettingNameContainerInsights, PrincipalArn: aws.String(role)}))(t)
	eff = must(c.ListAccountSettings(ctx, &sdk.ListAccountSettingsInput{EffectiveSettings: true, Name: types.SettingNameContainerInsights, PrincipalArn: aws.String(role)}))(t)
	if aws.ToString(eff.Settings[0].Value) != "enabled" {
		t.Fatalf("role falls back to the account default: %+v", eff.Settings)
	}
	for _, in := range []*sdk.PutAccountSettingInput{
		{Name: types.SettingNameContainerInsights, Value: aws.String("maybe")},
		{Name: types.SettingNameContainerInsights, Value: aws.String("enabled"), PrincipalArn: aws.String("arn:aws:iam::999999999999:root")},
		{Name: "noSuchSetting", Value: aws.String("on")},
	} {
		_, err := c.PutAccountSetting(ctx, in)
		if code := errCode(t, err); code != "InvalidParameterException" {
			t.Fatalf("put %+v: %v", in, err)
		}
	}
}

func TestUnsupportedOperation(t *testing.T) {
	c := newClient(t)
	_, err := c.CreateTaskSet(ctx, &sdk.CreateTaskSetInput{Cluster: aws.String("default"), Service: aws.String("s"), TaskDefinition: aws.String("t")})
	if code := errCode(t, err); code != "UnsupportedFeatureException" {
		t.Fatalf("an operation not served yet: %v", err)
	}
}
