package elbv2_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/flotilla/flotilla"
	elbdomain "github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/store"
)

// TestDescribeTargetHealthDraining: a deregistered target the data plane
// still lists is listed, draining, as ELBv2 lists it, whatever state the
// nodes give it (one that has not applied the deregistration finds it
// healthy), and asked for by itself it is draining rather than unused.
func TestDescribeTargetHealthDraining(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	arn := e.createTG(t, "app", types.TargetTypeEnumIp).TargetGroupArn
	sdktest.Must(e.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: arn, Targets: []types.TargetDescription{{Id: aws.String("10.0.0.1")}}}))
	e.health[*arn] = []lb.TargetHealth{
		{Target: lb.Target{ID: "10.0.0.1", Port: 8080}, State: lb.StateHealthy},
		{Target: lb.Target{ID: "10.0.0.3", Port: 8080}, State: lb.StateDraining, Reason: lb.ReasonDeregistrationInProgress},
		{Target: lb.Target{ID: "10.0.0.4", Port: 8080}, State: lb.StateHealthy},
	}
	draining := &types.TargetHealth{State: types.TargetHealthStateEnumDraining, Reason: types.TargetHealthReasonEnumDeregistrationInProgress,
		Description: aws.String("Target deregistration is in progress")}
	all := sdktest.Must(e.client.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: arn}))
	want := []types.TargetHealthDescription{
		{Target: &types.TargetDescription{Id: aws.String("10.0.0.1"), Port: aws.Int32(8080)}, HealthCheckPort: aws.String("8080"),
			TargetHealth: &types.TargetHealth{State: types.TargetHealthStateEnumHealthy}},
		{Target: &types.TargetDescription{Id: aws.String("10.0.0.3"), Port: aws.Int32(8080)}, HealthCheckPort: aws.String("8080"), TargetHealth: draining},
		{Target: &types.TargetDescription{Id: aws.String("10.0.0.4"), Port: aws.Int32(8080)}, HealthCheckPort: aws.String("8080"), TargetHealth: draining},
	}
	if !reflect.DeepEqual(all.TargetHealthDescriptions, want) {
		t.Errorf("DescribeTargetHealth = %+v\nwant %+v", all.TargetHealthDescriptions, want)
	}
	one := sdktest.Must(e.client.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: arn, Targets: []types.TargetDescription{{Id: aws.String("10.0.0.3")}}}))
	if got := one.TargetHealthDescriptions[0].TargetHealth; !reflect.DeepEqual(got, draining) {
		t.Errorf("DescribeTargetHealth(10.0.0.3) = %+v, want draining", got)
	}
}

// TestBuildConfigInstanceTargets: instance targets are reached at their
// container instance's address (127.0.0.1 when it has none), those of
// unknown instances are left out, and the revision is the one the records
// were read at.
func TestBuildConfigInstanceTargets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, ci := range []flotilla.ContainerInstance{
		{ID: "1", Cluster: "c", EC2InstanceID: "i-1", Address: "10.1.0.1", Status: flotilla.InstanceActive},
		{ID: "2", Cluster: "c", EC2InstanceID: "i-2", Status: flotilla.InstanceActive},
		// Registered again: the active record wins.
		{ID: "3", Cluster: "c", EC2InstanceID: "i-1", Address: "10.1.0.99", Status: flotilla.InstanceInactive},
	} {
		op, err := store.PutJSON(flotilla.InstanceKey(ci.Cluster, ci.ID), ci)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Txn(ctx, store.Txn{Ops: []store.Op{op}}); err != nil {
			t.Fatal(err)
		}
	}
	arn := e.createTG(t, "app", types.TargetTypeEnumInstance).TargetGroupArn
	sdktest.Must(e.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: arn, Targets: []types.TargetDescription{
		{Id: aws.String("i-1")}, {Id: aws.String("i-2"), Port: aws.Int32(9000)}, {Id: aws.String("i-404")},
	}}))
	written, err := e.store.Rev(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg, rev, err := elbdomain.BuildConfig(ctx, e.store)
	if err != nil {
		t.Fatal(err)
	}
	if rev != written {
		t.Errorf("revision %d, want %d", rev, written)
	}
	want := []lb.Target{{ID: "i-1", Address: "10.1.0.1"}, {ID: "i-2", Address: "127.0.0.1", Port: 9000}}
	if len(cfg.TargetGroups) != 1 || !reflect.DeepEqual(cfg.TargetGroups[0].Targets, want) {
		t.Fatalf("targets %+v, want %+v", cfg.TargetGroups, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the data plane rejects the config: %v", err)
	}
}
