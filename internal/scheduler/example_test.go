package scheduler_test

import (
	"fmt"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
)

func node(id, az, typ string, memoryMiB int32) flotilla.ContainerInstance {
	return flotilla.ContainerInstance{
		ID: id, ARN: "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/" + id,
		Status: flotilla.InstanceActive, AgentConnected: true,
		RemainingResources: []flotilla.Resource{
			{Name: "CPU", Type: "INTEGER", IntegerValue: 4096},
			{Name: "MEMORY", Type: "INTEGER", IntegerValue: memoryMiB},
		},
		Attributes: []flotilla.Attribute{
			{Name: "ecs.availability-zone", Value: &az},
			{Name: "ecs.instance-type", Value: &typ},
		},
	}
}

func Example() {
	// RunTask with count 4: constraints of the task definition and of the
	// request together, then the request's strategies.
	plan, err := scheduler.Compile(
		[]scheduler.Constraint{{Type: "memberOf", Expression: "attribute:ecs.instance-type =~ t3.*"}},
		[]scheduler.Strategy{{Type: "spread", Field: "attribute:ecs.availability-zone"}, {Type: "binpack", Field: "memory"}},
	)
	if err != nil {
		fmt.Println(err) // an InvalidParameterException
		return
	}
	instances := []flotilla.ContainerInstance{
		node("a1", "us-east-1a", "t3.large", 8192), node("a2", "us-east-1a", "t3.large", 2048),
		node("b1", "us-east-1b", "t3.large", 4096), node("b2", "us-east-1b", "m5.large", 1024),
	}
	// The groups of the tasks already on each instance (desired status not
	// STOPPED): scheduler.GroupsByInstance(tasks).
	snap := scheduler.NewSnapshot(instances, map[string][]string{"a1": {"family:web"}})
	placements, failures := snap.Place(plan, scheduler.Request{
		Group:       "family:web",
		Reservation: flotilla.Reservation{CPU: 256, MemoryMiB: 1024},
	}, 4)
	for _, p := range placements {
		fmt.Println("placed on", p.InstanceID)
	}
	for _, f := range failures {
		fmt.Println("failed on", f.InstanceID, f.Reason)
	}

	q, err := scheduler.ParseQuery("attribute:ecs.instance-type in [t2.small, t2.medium")
	fmt.Println(q, err)
	// Output:
	// placed on b1
	// placed on a2
	// placed on b1
	// placed on a2
	// <nil> Invalid cluster query expression at position 32: this argument list is never closed with "]".
}
