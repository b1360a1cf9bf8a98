package ecs_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestDescribeClustersFollowsWrites checks that DescribeClusters, whose
// records and instance counts are cached, answers every write made before
// it.
func TestDescribeClustersFollowsWrites(t *testing.T) {
	c := newClient(t)
	must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("demo")}))(t)
	describe := func() types.Cluster {
		t.Helper()
		out := must(c.DescribeClusters(ctx, &sdk.DescribeClustersInput{Clusters: []string{"demo"},
			Include: []types.ClusterField{types.ClusterFieldSettings, types.ClusterFieldTags}}))(t)
		if len(out.Clusters) != 1 {
			t.Fatalf("describe: %+v", out)
		}
		return out.Clusters[0]
	}
	if got := describe(); got.RegisteredContainerInstancesCount != 0 || len(got.Tags) != 0 {
		t.Fatalf("new cluster: %+v", got)
	}

	reg := must(c.RegisterContainerInstance(ctx, &sdk.RegisterContainerInstanceInput{Cluster: aws.String("demo")}))(t)
	if got := describe(); got.RegisteredContainerInstancesCount != 1 {
		t.Fatalf("after registering an instance: %d instances", got.RegisteredContainerInstancesCount)
	}
	must(c.TagResource(ctx, &sdk.TagResourceInput{ResourceArn: describe().ClusterArn,
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}}))(t)
	if got := describe(); len(got.Tags) != 1 || aws.ToString(got.Tags[0].Value) != "dev" {
		t.Fatalf("after tagging: %+v", got.Tags)
	}
	must(c.UpdateClusterSettings(ctx, &sdk.UpdateClusterSettingsInput{Cluster: aws.String("demo"),
		Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enhanced")}}}))(t)
	if got := describe(); len(got.Settings) != 1 || aws.ToString(got.Settings[0].Value) != "enhanced" {
		t.Fatalf("after updating settings: %+v", got.Settings)
	}
	must(c.DeregisterContainerInstance(ctx, &sdk.DeregisterContainerInstanceInput{Cluster: aws.String("demo"),
		ContainerInstance: reg.ContainerInstance.ContainerInstanceArn}))(t)
	if got := describe(); got.RegisteredContainerInstancesCount != 0 {
		t.Fatalf("after deregistering the instance: %d instances", got.RegisteredContainerInstancesCount)
	}
	must(c.DeleteCluster(ctx, &sdk.DeleteClusterInput{Cluster: aws.String("demo")}))(t)
	if got := describe(); aws.ToString(got.Status) != "INACTIVE" {
		t.Fatalf("after deleting: status %s", aws.ToString(got.Status))
	}
}
