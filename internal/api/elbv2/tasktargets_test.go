package elbv2_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/flotilla/flotilla/internal/api/elbv2"
	elbdomain "github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
)

// TestTaskTargets: the service controller's operations register and
// deregister targets and read a group's state, and they and
// TargetGroupLoadBalancers answer a group that does not exist with the
// domain's ErrTargetGroupNotFound.
func TestTaskTargets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	svc := elbv2.New(elbv2.Config{Store: e.store, Region: region, AccountID: account})
	arn := *e.createTG(t, "app", types.TargetTypeEnumInstance).TargetGroupArn
	if err := svc.RegisterTaskTargets(ctx, arn, []lb.Target{{ID: "i-a", Port: 9000}}); err != nil {
		t.Fatal(err)
	}
	g, err := svc.TargetGroupState(ctx, arn)
	if err != nil || g.ARN != arn || !g.Has("i-a", 9000) || g.Revision == 0 {
		t.Fatalf("TargetGroupState = %+v, %v", g, err)
	}
	if err := svc.DeregisterTaskTargets(ctx, arn, []lb.Target{{ID: "i-a", Port: 9000}}); err != nil {
		t.Fatal(err)
	}
	if g, err := svc.TargetGroupState(ctx, arn); err != nil || g.Has("i-a", 9000) {
		t.Fatalf("TargetGroupState after deregistering = %+v, %v", g, err)
	}

	gone := arn[:len(arn)-1] + "x"
	if _, err := svc.TargetGroupState(ctx, gone); !errors.Is(err, elbdomain.ErrTargetGroupNotFound) {
		t.Errorf("TargetGroupState(%s): %v, want ErrTargetGroupNotFound", gone, err)
	}
	if err := svc.RegisterTaskTargets(ctx, gone, []lb.Target{{ID: "i-a", Port: 9000}}); !errors.Is(err, elbdomain.ErrTargetGroupNotFound) {
		t.Errorf("RegisterTaskTargets(%s): %v, want ErrTargetGroupNotFound", gone, err)
	}
	if _, err := svc.TargetGroupLoadBalancers(ctx, gone); !errors.Is(err, elbdomain.ErrTargetGroupNotFound) {
		t.Errorf("TargetGroupLoadBalancers(%s): %v, want ErrTargetGroupNotFound", gone, err)
	}
	if err := svc.DeregisterTaskTargets(ctx, gone, []lb.Target{{ID: "i-a", Port: 9000}}); !errors.Is(err, elbdomain.ErrTargetGroupNotFound) {
		t.Errorf("DeregisterTaskTargets(%s): %v, want ErrTargetGroupNotFound", gone, err)
	}
}
