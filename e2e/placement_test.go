package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestPlacement runs real containers on three agents in three availability
// zones and checks ECS's strategies and constraints: spread, binpack,
// distinctInstance, memberOf, and RESOURCE:MEMORY on an exhausted instance.
func TestPlacement(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.ECS()
	cluster := newCluster(t, c)
	zoneMemory := map[string]string{"us-east-1a": "1024", "us-east-1b": "2048", "us-east-1c": "4096"}
	for zone, mem := range zoneMemory {
		startAgent(t, s, cluster, t.TempDir(), "--attribute", "ecs.availability-zone="+zone, "--memory", mem)
	}
	arns := waitInstances(t, c, cluster, 3)
	d, err := c.DescribeContainerInstances(bg, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(cluster), ContainerInstances: arns})
	if err != nil {
		t.Fatal(err)
	}
	zoneOf := map[string]string{}
	for _, ci := range d.ContainerInstances {
		for _, a := range ci.Attributes {
			if aws.ToString(a.Name) == "ecs.availability-zone" {
				zoneOf[aws.ToString(ci.ContainerInstanceArn)] = aws.ToString(a.Value)
			}
		}
	}
	td := registerTD(t, c, "placed", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"sleep", "10m"}, Memory: aws.Int32(256)})
	run := func(count int32, group string, cs []types.PlacementConstraint, ss []types.PlacementStrategy) *ecs.RunTaskOutput {
		t.Helper()
		out, err := c.RunTask(bg, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td), Count: aws.Int32(count),
			Group: aws.String(group), PlacementConstraints: cs, PlacementStrategy: ss})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	zones := func(out *ecs.RunTaskOutput) []string {
		var z []string
		for _, task := range out.Tasks {
			z = append(z, zoneOf[aws.ToString(task.ContainerInstanceArn)])
		}
		return z
	}
	stopAll := func(out *ecs.RunTaskOutput) {
		for _, task := range out.Tasks {
			if _, err := c.StopTask(bg, &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: task.TaskArn}); err != nil {
				t.Fatal(err)
			}
		}
		for _, task := range out.Tasks {
			waitTask(t, c, cluster, aws.ToString(task.TaskArn), "STOPPED")
		}
	}

	t.Run("spread by zone", func(t *testing.T) {
		out := run(3, "spread", nil, []types.PlacementStrategy{{Type: types.PlacementStrategyTypeSpread, Field: aws.String("attribute:ecs.availability-zone")}})
		got := map[string]int{}
		for _, z := range zones(out) {
			got[z]++
		}
		if len(got) != 3 {
			t.Fatalf("spread placed in zones %v, want one task in each of 3", got)
		}
		for _, task := range out.Tasks {
			waitTask(t, c, cluster, aws.ToString(task.TaskArn), "RUNNING")
		}
		stopAll(out)
	})

	t.Run("binpack on memory", func(t *testing.T) {
		out := run(3, "binpack", nil, []types.PlacementStrategy{{Type: types.PlacementStrategyTypeBinpack, Field: aws.String("memory")}})
		for _, z := range zones(out) {
			if z != "us-east-1a" {
				t.Fatalf("binpack placed in %v, want every task on the smallest instance (us-east-1a)", zones(out))
			}
		}
		stopAll(out)
	})

	t.Run("distinctInstance", func(t *testing.T) {
		out := run(4, "distinct", []types.PlacementConstraint{{Type: types.PlacementConstraintTypeDistinctInstance}}, nil)
		seen := map[string]bool{}
		for _, task := range out.Tasks {
			seen[aws.ToString(task.ContainerInstanceArn)] = true
		}
		if len(out.Tasks) != 3 || len(seen) != 3 || len(out.Failures) == 0 {
			t.Fatalf("distinctInstance with 4 tasks on 3 instances: %d placed on %d instances, failures %+v", len(out.Tasks), len(seen), out.Failures)
		}
		for _, f := range out.Failures {
			if !strings.Contains(aws.ToString(f.Reason), "DistinctInstance") {
				t.Fatalf("failure reason %q", aws.ToString(f.Reason))
			}
		}
		stopAll(out)
	})

	t.Run("memberOf", func(t *testing.T) {
		out := run(2, "member", []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf,
			Expression: aws.String("attribute:ecs.availability-zone == us-east-1b")}}, nil)
		if z := zones(out); len(z) != 2 || z[0] != "us-east-1b" || z[1] != "us-east-1b" {
			t.Fatalf("memberOf us-east-1b placed in %v", z)
		}
		list, err := c.ListContainerInstances(bg, &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster),
			Filter: aws.String("task:group == member")})
		if err != nil || len(list.ContainerInstanceArns) != 1 || zoneOf[list.ContainerInstanceArns[0]] != "us-east-1b" {
			t.Fatalf("instances running group member: %v %v", list, err)
		}
		stopAll(out)
	})

	t.Run("memory exhausted", func(t *testing.T) {
		big := registerTD(t, c, "big", types.ContainerDefinition{Name: aws.String("main"), Command: []string{"sleep", "10m"}, Memory: aws.Int32(1536)})
		out, err := c.RunTask(bg, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(big),
			PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf,
				Expression: aws.String("attribute:ecs.availability-zone == us-east-1a")}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Tasks) != 0 || len(out.Failures) == 0 {
			t.Fatalf("a 1536 MiB task on a 1024 MiB instance: %+v", out)
		}
		reasons := map[string]bool{}
		for _, f := range out.Failures {
			reasons[aws.ToString(f.Reason)] = true
		}
		if !reasons["RESOURCE:MEMORY"] {
			t.Fatalf("failure reasons %v, want RESOURCE:MEMORY", reasons)
		}
		_, err = c.RunTask(bg, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(big),
			PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.availability-zone ==")}}})
		if err == nil || !strings.Contains(err.Error(), "InvalidParameterException") {
			t.Fatalf("malformed memberOf expression: %v", err)
		}
	})
}
