package elbv2_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla/internal/api/elbv2"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/store"
)

// TestUniqueAcrossServers has two API servers over one store create, all
// at once, listeners on one port (of one load balancer and of another) and
// target groups of one name with different settings: one of each is made,
// and the others fail with ELBv2's errors, whichever server they reached.
func TestUniqueAcrossServers(t *testing.T) {
	one := newEnv(t)
	two := newEnvOn(t, one.store, nil)
	envs := []*env{one, two}
	ctx := context.Background()
	lbs := []string{aws.ToString(one.createLB(t, "a").LoadBalancerArn), aws.ToString(two.createLB(t, "b").LoadBalancerArn)}
	tg := aws.ToString(one.createTG(t, "tg", types.TargetTypeEnumInstance).TargetGroupArn)

	const rounds, each = 10, 8
	for round := range rounds {
		port := int32(8000 + round)
		name := fmt.Sprintf("dup-%d", round)
		var wg sync.WaitGroup
		listenerErrs := make([]error, each)
		tgErrs := make([]error, each)
		for i := range each {
			e := envs[i%2]
			wg.Go(func() {
				_, listenerErrs[i] = e.client.CreateListener(ctx, &elb.CreateListenerInput{
					LoadBalancerArn: aws.String(lbs[(i/2)%2]), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(port),
					DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}},
				})
			})
			wg.Go(func() {
				_, tgErrs[i] = e.client.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
					Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(int32(9000 + i)),
				})
			})
		}
		wg.Wait()
		if n := successes(t, listenerErrs, "DuplicateListener"); n != 1 {
			t.Errorf("round %d: %d listeners made on port %d, want 1", round, n, port)
		}
		if n := successes(t, tgErrs, "DuplicateTargetGroupName"); n != 1 {
			t.Errorf("round %d: %d target groups %s made, want 1", round, n, name)
		}
	}
	// And the store agrees: one listener a port.
	ports := map[int32]int{}
	for _, arn := range lbs {
		out := sdktest.Must(one.client.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(arn)}))
		for _, l := range out.Listeners {
			ports[aws.ToInt32(l.Port)]++
		}
	}
	for port, n := range ports {
		if n != 1 {
			t.Errorf("port %d: %d listeners", port, n)
		}
	}
}

// successes counts the nil errors, and fails the test on an error that is
// not code (or PriorRequestNotComplete, the answer to a request that lost
// every race).
func successes(t *testing.T, errs []error, code string) int {
	t.Helper()
	n := 0
	for _, err := range errs {
		var ae smithy.APIError
		switch {
		case err == nil:
			n++
		case errors.As(err, &ae) && (ae.ErrorCode() == code || ae.ErrorCode() == "PriorRequestNotComplete"):
		default:
			t.Errorf("error %v, want %s", err, code)
		}
	}
	return n
}

// TestReservedPorts refuses listeners on a port Flotilla itself uses,
// made or moved there.
func TestReservedPorts(t *testing.T) {
	e := newEnvOn(t, newEnv(t).store, func(c *elbv2.Config) { c.ReservedPorts = map[int]string{9400: "API"} })
	ctx := context.Background()
	web := aws.ToString(e.createLB(t, "web").LoadBalancerArn)
	tg := aws.ToString(e.createTG(t, "tg", types.TargetTypeEnumInstance).TargetGroupArn)
	_, err := e.client.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(web), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(9400),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}},
	})
	wantCode[*types.InvalidConfigurationRequestException](t, err, "InvalidConfigurationRequest")
	l := e.createListener(t, web, 80, tg)
	_, err = e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn, Port: aws.Int32(9400)})
	wantCode[*types.InvalidConfigurationRequestException](t, err, "InvalidConfigurationRequest")
}

// TestReservedPortKept lets a listener written before Flotilla reserved
// its port (the metrics port of an upgrade) be modified without moving
// it, still refuses moving one there, and warns of it at start
// (ClaimPorts), the data plane being unable to open it.
func TestReservedPortKept(t *testing.T) {
	old := newEnv(t)
	ctx := context.Background()
	web := aws.ToString(old.createLB(t, "web").LoadBalancerArn)
	tg := aws.ToString(old.createTG(t, "tg", types.TargetTypeEnumInstance).TargetGroupArn)
	kept := old.createListener(t, web, 9401, tg)
	other := old.createListener(t, web, 80, tg)

	var logs bytes.Buffer
	var svc *elbv2.Config
	e := newEnvOn(t, old.store, func(c *elbv2.Config) {
		c.ReservedPorts = map[int]string{9401: "metrics (--metrics-listen)"}
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		svc = c
	})
	if err := elbv2.New(*svc).ClaimPorts(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), aws.ToString(kept.ListenerArn)) {
		t.Errorf("no warning of the listener on the reserved port at start; logs:\n%s", logs.String())
	}
	sdktest.Must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: kept.ListenerArn,
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("503")}}}}))
	sdktest.Must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: kept.ListenerArn, Port: aws.Int32(9401)}))
	_, err := e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: other.ListenerArn, Port: aws.Int32(9401)})
	wantCode[*types.InvalidConfigurationRequestException](t, err, "InvalidConfigurationRequest")
	// Moved off it, it cannot come back.
	sdktest.Must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: kept.ListenerArn, Port: aws.Int32(81)}))
	_, err = e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: kept.ListenerArn, Port: aws.Int32(9401)})
	wantCode[*types.InvalidConfigurationRequestException](t, err, "InvalidConfigurationRequest")
}

// TestPortClaims frees a port when its listener moves off it or is
// deleted, with its load balancer or alone, and keeps a port held by a
// listener written before claims existed (its claim deleted here) from
// being given to another.
func TestPortClaims(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	web := aws.ToString(e.createLB(t, "web").LoadBalancerArn)
	api := aws.ToString(e.createLB(t, "api").LoadBalancerArn)
	tg := aws.ToString(e.createTG(t, "tg", types.TargetTypeEnumInstance).TargetGroupArn)
	create := func(lbARN string, port int32) (*elb.CreateListenerOutput, error) {
		return e.client.CreateListener(ctx, &elb.CreateListenerInput{
			LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(port),
			DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}},
		})
	}
	l := e.createListener(t, web, 80, tg)
	sdktest.Must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn, Port: aws.Int32(81)}))
	sdktest.Must(create(api, 80)) // 80 was freed
	_, err := create(api, 81)
	wantCode[*types.DuplicateListenerException](t, err, "DuplicateListener")
	sdktest.Must(e.client.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: l.ListenerArn}))
	sdktest.Must(create(api, 81)) // 81 was freed
	sdktest.Must(e.client.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(api)}))
	legacy := e.createListener(t, web, 80, tg) // 80 and 81 were freed
	e.createListener(t, web, 81, tg)

	// A listener of an earlier release: no claim.
	claims, _, err := e.store.List(ctx, "/elbv2/ports/", store.ListOptions{})
	if err != nil || len(claims) != 2 {
		t.Fatalf("claims %v, %v; want 2", claims, err)
	}
	if _, err := e.store.Txn(ctx, store.Txn{Ops: []store.Op{{Key: "/elbv2/ports/80", Delete: true}}}); err != nil {
		t.Fatal(err)
	}
	_, err = create(web, 80)
	wantCode[*types.DuplicateListenerException](t, err, "DuplicateListener")
	// Its next write claims its port.
	sdktest.Must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: legacy.ListenerArn, Protocol: types.ProtocolEnumHttp}))
	kv, err := e.store.Get(ctx, "/elbv2/ports/80")
	if err != nil || !strings.Contains(string(kv.Value), aws.ToString(legacy.ListenerArn)) {
		t.Errorf("claim of port 80 after a write of its listener: %v, %v", kv, err)
	}
}

// TestImpairedLoadBalancer reports a load balancer with a listener that a
// node could not open active_impaired, with the port and the node's
// reason, and the others active.
func TestImpairedLoadBalancer(t *testing.T) {
	errs := map[string]string{}
	e := newEnvOn(t, newEnv(t).store, func(c *elbv2.Config) {
		c.ListenerErrors = func(context.Context) (map[string]string, error) { return errs, nil }
	})
	ctx := context.Background()
	web := aws.ToString(e.createLB(t, "web").LoadBalancerArn)
	e.createLB(t, "api")
	tg := aws.ToString(e.createTG(t, "tg", types.TargetTypeEnumInstance).TargetGroupArn)
	e.createListener(t, web, 80, tg)
	l := e.createListener(t, web, 22, tg)
	errs[aws.ToString(l.ListenerArn)] = "node n1: listen tcp 127.0.0.1:22: bind: permission denied"

	out := sdktest.Must(e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{}))
	got := map[string]types.LoadBalancerState{}
	for _, b := range out.LoadBalancers {
		got[aws.ToString(b.LoadBalancerName)] = *b.State
	}
	if s := got["api"]; s.Code != types.LoadBalancerStateEnumActive || s.Reason != nil {
		t.Errorf("api: %s %q", s.Code, aws.ToString(s.Reason))
	}
	want := "Listener on port 22 cannot open: node n1: listen tcp 127.0.0.1:22: bind: permission denied"
	if s := got["web"]; s.Code != types.LoadBalancerStateEnumActiveImpaired || aws.ToString(s.Reason) != want {
		t.Errorf("web: %s %q, want active_impaired %q", s.Code, aws.ToString(s.Reason), want)
	}
}
