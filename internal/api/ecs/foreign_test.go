package ecs

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// foreignARNs returns arn as it would be in another region, another account
// and another partition: none of them names a resource here.
func foreignARNs(arn string) []string {
	return []string{
		strings.Replace(arn, ":us-east-1:", ":eu-west-9:", 1),
		strings.Replace(arn, ":123456789012:", ":999999999999:", 1),
		strings.Replace(arn, "arn:aws:", "arn:aws-cn:", 1),
	}
}

// TestForeignARNsNameNothing: every ECS input that takes an ARN finds the
// resource by its own ARN and nothing by the same ARN in another region,
// account or partition (issue 26.3).
func TestForeignARNsNameNothing(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(Config{Store: st, Account: flotilla.Account{Region: "us-east-1", ID: "123456789012"}})
	cl, err := s.CreateCluster(ctx, &wire.CreateClusterRequest{ClusterName: ptr.To("c")})
	if err != nil {
		t.Fatal(err)
	}
	clusterARN := ptr.Deref(cl.Cluster.ClusterArn)
	res := []wire.Resource{{Name: ptr.To("CPU"), Type: ptr.To("INTEGER"), IntegerValue: ptr.To(int32(2048))},
		{Name: ptr.To("MEMORY"), Type: ptr.To("INTEGER"), IntegerValue: ptr.To(int32(1000))}}
	reg, err := s.RegisterContainerInstance(ctx, &wire.RegisterContainerInstanceRequest{Cluster: ptr.To("c"), TotalResources: res})
	if err != nil {
		t.Fatal(err)
	}
	instanceARN := ptr.Deref(reg.ContainerInstance.ContainerInstanceArn)
	td, err := s.RegisterTaskDefinition(ctx, &wire.RegisterTaskDefinitionRequest{Family: ptr.To("web"),
		ContainerDefinitions: []wire.ContainerDefinition{{Name: ptr.To("app"), Image: ptr.To("busybox"), Memory: ptr.To(int32(64))}}})
	if err != nil {
		t.Fatal(err)
	}
	tdARN := ptr.Deref(td.TaskDefinition.TaskDefinitionArn)
	svc, err := s.CreateService(ctx, &wire.CreateServiceRequest{Cluster: ptr.To("c"), ServiceName: ptr.To("api"), TaskDefinition: ptr.To(tdARN), DesiredCount: ptr.To(int32(0))})
	if err != nil {
		t.Fatal(err)
	}
	serviceARN := ptr.Deref(svc.Service.ServiceArn)
	deps, err := s.ListServiceDeployments(ctx, &wire.ListServiceDeploymentsRequest{Cluster: ptr.To("c"), Service: ptr.To("api")})
	if err != nil || len(deps.ServiceDeployments) != 1 {
		t.Fatalf("service deployments: %v %v", deps, err)
	}
	deploymentARN := ptr.Deref(deps.ServiceDeployments[0].ServiceDeploymentArn)
	// A task as a placement leaves it.
	task := flotilla.Task{ID: "0123456789abcdef0123456789abcdef", Cluster: "c", LastStatus: flotilla.TaskRunning, DesiredStatus: flotilla.TaskRunning}
	if _, err := st.Txn(ctx, store.Txn{Ops: []store.Op{putJSON(flotilla.TaskKey("c", task.ID), task)}}); err != nil {
		t.Fatal(err)
	}
	taskARN := s.acct.TaskARN("c", task.ID)

	// Each check reports whether the resource an ARN names was found.
	checks := []struct {
		name, arn string
		found     func(arn string) bool
	}{
		{"DescribeClusters", clusterARN, func(arn string) bool {
			out, err := s.DescribeClusters(ctx, &wire.DescribeClustersRequest{Clusters: []string{arn}})
			return err == nil && len(out.Clusters) == 1
		}},
		{"ListServices cluster", clusterARN, func(arn string) bool {
			_, err := s.ListServices(ctx, &wire.ListServicesRequest{Cluster: ptr.To(arn)})
			return err == nil
		}},
		{"ListTagsForResource", clusterARN, func(arn string) bool {
			_, err := s.ListTagsForResource(ctx, &wire.ListTagsForResourceRequest{ResourceArn: ptr.To(arn)})
			return err == nil
		}},
		{"DescribeTasks", taskARN, func(arn string) bool {
			out, err := s.DescribeTasks(ctx, &wire.DescribeTasksRequest{Cluster: ptr.To("c"), Tasks: []string{arn}})
			return err == nil && len(out.Tasks) == 1
		}},
		{"DescribeContainerInstances", instanceARN, func(arn string) bool {
			out, err := s.DescribeContainerInstances(ctx, &wire.DescribeContainerInstancesRequest{Cluster: ptr.To("c"), ContainerInstances: []string{arn}})
			return err == nil && len(out.ContainerInstances) == 1
		}},
		{"PutAttributes targetId", instanceARN, func(arn string) bool {
			_, err := s.PutAttributes(ctx, &wire.PutAttributesRequest{Cluster: ptr.To("c"), Attributes: []wire.Attribute{{Name: ptr.To("a"), TargetId: ptr.To(arn)}}})
			return err == nil
		}},
		{"DescribeTaskDefinition", tdARN, func(arn string) bool {
			_, err := s.DescribeTaskDefinition(ctx, &wire.DescribeTaskDefinitionRequest{TaskDefinition: ptr.To(arn)})
			return err == nil
		}},
		{"DescribeServices", serviceARN, func(arn string) bool {
			out, err := s.DescribeServices(ctx, &wire.DescribeServicesRequest{Cluster: ptr.To("c"), Services: []string{arn}})
			return err == nil && len(out.Services) == 1
		}},
		{"UpdateService", serviceARN, func(arn string) bool {
			_, err := s.UpdateService(ctx, &wire.UpdateServiceRequest{Cluster: ptr.To("c"), Service: ptr.To(arn)})
			return err == nil
		}},
		{"ListTasks containerInstance", instanceARN, func(arn string) bool {
			_, err := s.ListTasks(ctx, &wire.ListTasksRequest{Cluster: ptr.To("c"), ContainerInstance: ptr.To(arn)})
			return err == nil
		}},
		{"PutAccountSetting principalArn", s.acct.RootPrincipal(), func(arn string) bool {
			_, err := s.PutAccountSetting(ctx, &wire.PutAccountSettingRequest{Name: wire.SettingNameContainerInsights, Value: ptr.To("enabled"), PrincipalArn: ptr.To(arn)})
			return err == nil
		}},
		{"UpdateContainerInstancesState", instanceARN, func(arn string) bool {
			out, err := s.UpdateContainerInstancesState(ctx, &wire.UpdateContainerInstancesStateRequest{Cluster: ptr.To("c"), ContainerInstances: []string{arn}, Status: wire.ContainerInstanceStatusActive})
			return err == nil && len(out.ContainerInstances) == 1
		}},
		{"ListServiceDeployments service", serviceARN, func(arn string) bool {
			_, err := s.ListServiceDeployments(ctx, &wire.ListServiceDeploymentsRequest{Cluster: ptr.To("c"), Service: ptr.To(arn)})
			return err == nil
		}},
		{"DescribeServiceDeployments", deploymentARN, func(arn string) bool {
			out, err := s.DescribeServiceDeployments(ctx, &wire.DescribeServiceDeploymentsRequest{ServiceDeploymentArns: []string{arn}})
			return err == nil && len(out.ServiceDeployments) == 1
		}},
		{"TagResource service", serviceARN, func(arn string) bool {
			_, err := s.TagResource(ctx, &wire.TagResourceRequest{ResourceArn: ptr.To(arn), Tags: []wire.Tag{{Key: ptr.To("k"), Value: ptr.To("v")}}})
			return err == nil
		}},
		{"RegisterContainerInstance containerInstanceArn", instanceARN, func(arn string) bool {
			_, err := s.RegisterContainerInstance(ctx, &wire.RegisterContainerInstanceRequest{Cluster: ptr.To("c"), TotalResources: res, ContainerInstanceArn: ptr.To(arn)})
			if err != nil && flotilla.ErrorCode(err) != flotilla.EInvalid {
				// What an agent takes for "register anew".
				t.Errorf("re-registering %s: %v, want an invalid-parameter error", arn, err)
			}
			return err == nil
		}},
		// Last: they stop the task and deregister the instance.
		{"StopTask", taskARN, func(arn string) bool {
			_, err := s.StopTask(ctx, &wire.StopTaskRequest{Cluster: ptr.To("c"), Task: ptr.To(arn)})
			return err == nil
		}},
		{"DeregisterContainerInstance", instanceARN, func(arn string) bool {
			_, err := s.DeregisterContainerInstance(ctx, &wire.DeregisterContainerInstanceRequest{Cluster: ptr.To("c"), ContainerInstance: ptr.To(arn), Force: ptr.To(true)})
			return err == nil
		}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range foreignARNs(c.arn) {
				if f == c.arn {
					continue // an IAM ARN names no region
				}
				if c.found(f) {
					t.Errorf("%s found something by the foreign ARN %s", c.name, f)
				}
			}
			if !c.found(c.arn) {
				t.Errorf("%s found nothing by its own ARN %s", c.name, c.arn)
			}
		})
	}
}
