package ecs_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func TestServicesAPI(t *testing.T) {
	c := newClient(t)
	must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("prod")}))(t)
	td1 := must(c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"), ContainerDefinitions: []types.ContainerDefinition{container("web", 64)}}))(t)
	td2 := must(c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"), ContainerDefinitions: []types.ContainerDefinition{container("web", 64)}}))(t)

	in := &sdk.CreateServiceInput{Cluster: aws.String("prod"), ServiceName: aws.String("api"), TaskDefinition: aws.String("web:1"),
		DesiredCount: aws.Int32(3), ClientToken: aws.String("tok")}
	svc := must(c.CreateService(ctx, in))(t).Service
	if aws.ToString(svc.Status) != "ACTIVE" || svc.SchedulingStrategy != types.SchedulingStrategyReplica || svc.DesiredCount != 3 {
		t.Fatalf("create: %+v", svc)
	}
	dc := svc.DeploymentConfiguration
	if aws.ToInt32(dc.MinimumHealthyPercent) != 100 || aws.ToInt32(dc.MaximumPercent) != 200 {
		t.Fatalf("default deployment configuration %+v", dc)
	}
	if len(svc.PlacementStrategy) != 2 || aws.ToString(svc.PlacementStrategy[0].Field) != "attribute:ecs.availability-zone" {
		t.Fatalf("default placement strategy %+v", svc.PlacementStrategy)
	}
	if len(svc.Deployments) != 1 || aws.ToString(svc.Deployments[0].Status) != "PRIMARY" || svc.Deployments[0].RolloutState != types.DeploymentRolloutStateInProgress {
		t.Fatalf("deployments %+v", svc.Deployments)
	}
	again := must(c.CreateService(ctx, in))(t).Service
	if aws.ToString(again.ServiceArn) != aws.ToString(svc.ServiceArn) {
		t.Fatal("same client token made another service")
	}
	in.ClientToken = aws.String("other")
	if _, err := c.CreateService(ctx, in); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("second create without the token: %v", err)
	}

	for name, bad := range map[string]*sdk.CreateServiceInput{
		"bad name":       {ServiceName: aws.String("no spaces"), TaskDefinition: aws.String("web")},
		"min over 100":   {ServiceName: aws.String("x"), TaskDefinition: aws.String("web"), DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(120)}},
		"max under 100":  {ServiceName: aws.String("x"), TaskDefinition: aws.String("web"), DeploymentConfiguration: &types.DeploymentConfiguration{MaximumPercent: aws.Int32(50)}},
		"daemon count":   {ServiceName: aws.String("x"), TaskDefinition: aws.String("web"), SchedulingStrategy: types.SchedulingStrategyDaemon, DesiredCount: aws.Int32(2)},
		"bad constraint": {ServiceName: aws.String("x"), TaskDefinition: aws.String("web"), PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:x ==")}}},
	} {
		bad.Cluster = aws.String("prod")
		if _, err := c.CreateService(ctx, bad); errCode(t, err) != "InvalidParameterException" {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := c.CreateService(ctx, &sdk.CreateServiceInput{Cluster: aws.String("nope"), ServiceName: aws.String("x"), TaskDefinition: aws.String("web")}); errCode(t, err) != "ClusterNotFoundException" {
		t.Fatalf("missing cluster: %v", err)
	}

	up := must(c.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("api"), DesiredCount: aws.Int32(4)}))(t).Service
	if up.DesiredCount != 4 || len(up.Deployments) != 1 || up.Deployments[0].DesiredCount != 4 {
		t.Fatalf("scale: %+v", up)
	}
	up = must(c.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("api"), TaskDefinition: td2.TaskDefinition.TaskDefinitionArn}))(t).Service
	if len(up.Deployments) != 2 || aws.ToString(up.Deployments[0].Status) != "PRIMARY" || aws.ToString(up.Deployments[0].TaskDefinition) != aws.ToString(td2.TaskDefinition.TaskDefinitionArn) ||
		aws.ToString(up.Deployments[1].Status) != "ACTIVE" || aws.ToString(up.Deployments[1].TaskDefinition) != aws.ToString(td1.TaskDefinition.TaskDefinitionArn) {
		t.Fatalf("new revision: %+v", up.Deployments)
	}
	up = must(c.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("api"), ForceNewDeployment: true}))(t).Service
	if len(up.Deployments) != 3 {
		t.Fatalf("forceNewDeployment: %d deployments", len(up.Deployments))
	}
	deps := must(c.ListServiceDeployments(ctx, &sdk.ListServiceDeploymentsInput{Cluster: aws.String("prod"), Service: aws.String("api")}))(t)
	if len(deps.ServiceDeployments) != 3 || deps.ServiceDeployments[0].Status != types.ServiceDeploymentStatusInProgress {
		t.Fatalf("list deployments: %+v", deps.ServiceDeployments)
	}
	desc := must(c.DescribeServiceDeployments(ctx, &sdk.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{aws.ToString(deps.ServiceDeployments[0].ServiceDeploymentArn), "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/api/nope"}}))(t)
	if len(desc.ServiceDeployments) != 1 || len(desc.Failures) != 1 {
		t.Fatalf("describe deployments: %+v", desc)
	}

	d := must(c.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"api", "ghost"}, Include: []types.ServiceField{types.ServiceFieldTags}}))(t)
	if len(d.Services) != 1 || len(d.Failures) != 1 || aws.ToString(d.Failures[0].Reason) != "MISSING" {
		t.Fatalf("describe: %+v", d)
	}
	if _, err := c.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("ghost"), DesiredCount: aws.Int32(1)}); errCode(t, err) != "ServiceNotFoundException" {
		t.Fatalf("update a missing service: %v", err)
	}
	l := must(c.ListServices(ctx, &sdk.ListServicesInput{Cluster: aws.String("prod")}))(t)
	if len(l.ServiceArns) != 1 {
		t.Fatalf("list: %v", l.ServiceArns)
	}
	if _, err := c.DeleteService(ctx, &sdk.DeleteServiceInput{Cluster: aws.String("prod"), Service: aws.String("api")}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("delete a scaled service: %v", err)
	}
	del := must(c.DeleteService(ctx, &sdk.DeleteServiceInput{Cluster: aws.String("prod"), Service: aws.String("api"), Force: aws.Bool(true)}))(t).Service
	if aws.ToString(del.Status) != "DRAINING" || del.DesiredCount != 0 {
		t.Fatalf("delete: %+v", del)
	}
	if _, err := c.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("api"), DesiredCount: aws.Int32(1)}); errCode(t, err) != "ServiceNotActiveException" {
		t.Fatalf("update a draining service: %v", err)
	}
}

// TestServiceRanges checks ECS's ranges of desiredCount (0 to the quota of
// 5000 tasks per service) and healthCheckGracePeriodSeconds (0 to
// 2147483647) in CreateService and UpdateService, and that a refused update
// changes nothing.
func TestServiceRanges(t *testing.T) {
	c := newClient(t)
	must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("prod")}))(t)
	must(c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"), ContainerDefinitions: []types.ContainerDefinition{container("web", 64)}}))(t)
	create := func(name string, desired, grace *int32) error {
		_, err := c.CreateService(ctx, &sdk.CreateServiceInput{Cluster: aws.String("prod"), ServiceName: aws.String(name), TaskDefinition: aws.String("web"),
			DesiredCount: desired, HealthCheckGracePeriodSeconds: grace})
		return err
	}
	for _, tc := range []struct {
		name           string
		desired, grace *int32
		code           string
	}{
		{"at the quota", aws.Int32(5000), aws.Int32(2147483647), ""},
		{"past the quota", aws.Int32(5001), nil, "InvalidParameterException"},
		{"largest integer", aws.Int32(2147483647), nil, "InvalidParameterException"},
		{"negative count", aws.Int32(-1), nil, "InvalidParameterException"},
		{"negative grace period", aws.Int32(1), aws.Int32(-1), "InvalidParameterException"},
	} {
		if err := create("s"+strings.ReplaceAll(tc.name, " ", "-"), tc.desired, tc.grace); errCode(t, err) != tc.code {
			t.Errorf("create %s: %v, want %q", tc.name, err, tc.code)
		}
	}
	if err := create("api", aws.Int32(2), aws.Int32(30)); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]*sdk.UpdateServiceInput{
		"count past the quota":  {DesiredCount: aws.Int32(5001)},
		"negative grace period": {HealthCheckGracePeriodSeconds: aws.Int32(-5)},
	} {
		in.Cluster, in.Service = aws.String("prod"), aws.String("api")
		if _, err := c.UpdateService(ctx, in); errCode(t, err) != "InvalidParameterException" {
			t.Errorf("update %s: %v", name, err)
		}
	}
	out := must(c.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"api"}}))(t)
	if s := out.Services[0]; s.DesiredCount != 2 || aws.ToInt32(s.HealthCheckGracePeriodSeconds) != 30 {
		t.Errorf("after refused updates: desired %d, grace %d; want 2 and 30", s.DesiredCount, aws.ToInt32(s.HealthCheckGracePeriodSeconds))
	}
}

// TestDependsOnCycleRefused checks that RegisterTaskDefinition refuses
// containers that depend on each other in a cycle, which could never start,
// and accepts a chain.
func TestDependsOnCycleRefused(t *testing.T) {
	c := newClient(t)
	dep := func(name string) []types.ContainerDependency {
		return []types.ContainerDependency{{ContainerName: aws.String(name), Condition: types.ContainerConditionStart}}
	}
	withDeps := func(deps map[string]string, names ...string) *sdk.RegisterTaskDefinitionInput {
		in := &sdk.RegisterTaskDefinitionInput{Family: aws.String("app")}
		for _, n := range names {
			cd := container(n, 16)
			if d, ok := deps[n]; ok {
				cd.DependsOn = dep(d)
			}
			in.ContainerDefinitions = append(in.ContainerDefinitions, cd)
		}
		return in
	}
	for _, tc := range []struct {
		name  string
		in    *sdk.RegisterTaskDefinitionInput
		cycle string
	}{
		{"two", withDeps(map[string]string{"a": "b", "b": "a"}, "a", "b"), "(a -> b -> a)"},
		{"three", withDeps(map[string]string{"a": "b", "b": "c", "c": "a"}, "a", "b", "c"), "(a -> b -> c -> a)"},
	} {
		_, err := c.RegisterTaskDefinition(ctx, tc.in)
		if errCode(t, err) != "ClientException" || !strings.Contains(err.Error(), tc.cycle) {
			t.Errorf("%s: %v, want ClientException naming %s", tc.name, err, tc.cycle)
		}
	}
	if _, err := c.RegisterTaskDefinition(ctx, withDeps(map[string]string{"a": "b", "b": "c"}, "a", "b", "c")); err != nil {
		t.Errorf("chain: %v", err)
	}
}

// TestDescribeServicesAtMostTen checks ECS's bound of DescribeServices, in
// ECS's words.
func TestDescribeServicesAtMostTen(t *testing.T) {
	c := newClient(t)
	names := make([]string, 11)
	for i := range names {
		names[i] = "s" + strings.Repeat("x", i)
	}
	_, err := c.DescribeServices(ctx, &sdk.DescribeServicesInput{Services: names})
	if errCode(t, err) != "InvalidParameterException" || !strings.Contains(err.Error(), "service names can have at most 10 items.") {
		t.Fatalf("11 services: %v", err)
	}
}
