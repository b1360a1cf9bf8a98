package elbv2_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/acm"
	"github.com/flotilla/flotilla/internal/api/elbv2"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	elbdomain "github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

const (
	akid    = "AKIDEXAMPLE"
	secret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	region  = sdktest.Region
	account = "123456789012"
)

var created = time.Date(2026, 1, 1, 0, 10, 0, 123_000_000, time.UTC)

// env is a real API server with the ELBv2 and ACM services over a bbolt
// store, and the real SDK clients pointed at it.
type env struct {
	url    string // the API server's
	store  store.Store
	client *elb.Client
	acm    *acmsdk.Client
	health map[string][]lb.TargetHealth // what Config.Health answers
	// afterInUse, when set, runs once after ACM's next look at which
	// certificates are in use, before ACM acts on what it saw.
	afterInUse func()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{InitialMmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st, nil)
}

// newEnvOn is newEnv over st, with the service's configuration changed by
// configure when it is not nil.
func newEnvOn(t *testing.T, st store.Store, configure func(*elbv2.Config)) *env {
	t.Helper()
	e := &env{store: st, health: map[string][]lb.TargetHealth{}}
	cfg := elbv2.Config{
		Store: st, Region: region, AccountID: account,
		Clock:  func() time.Time { return created },
		Health: func(_ context.Context, arn string) ([]lb.TargetHealth, error) { return e.health[arn], nil },
	}
	if configure != nil {
		configure(&cfg)
	}
	svc := elbv2.New(cfg)
	s := api.NewServer(api.Config{Credentials: sigv4.StaticCredentials{akid: secret}, Logger: slog.New(slog.DiscardHandler)})
	s.HandleQuery(svc.QueryService())
	inUse := func(ctx context.Context) (map[string][]string, error) {
		users, err := svc.CertificateUsers(ctx)
		if f := e.afterInUse; f != nil {
			e.afterInUse = nil
			f()
		}
		return users, err
	}
	s.HandleJSON(acm.New(acm.Config{Store: st, Region: region, AccountID: account, InUse: inUse}).JSONService())
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	e.url = hs.URL
	e.client = elb.NewFromConfig(sdktest.Config(hs.URL, akid, secret))
	e.acm = acmsdk.NewFromConfig(sdktest.Config(hs.URL, akid, secret))
	return e
}

// wantCode checks that err is an API error with code, of the SDK's type E
// (smithy.APIError for codes the SDK does not model for the operation).
func wantCode[E error](t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("code = %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	var typed E
	if !errors.As(err, &typed) {
		t.Errorf("error %T is not %T", err, typed)
	}
}

func (e *env) createLB(t *testing.T, name string) types.LoadBalancer {
	t.Helper()
	out := sdktest.Must(e.client.CreateLoadBalancer(context.Background(), &elb.CreateLoadBalancerInput{
		Name: aws.String(name), Subnets: []string{"subnet-a", "subnet-b"},
	}))
	return out.LoadBalancers[0]
}

func (e *env) createTG(t *testing.T, name string, tt types.TargetTypeEnum) types.TargetGroup {
	t.Helper()
	out := sdktest.Must(e.client.CreateTargetGroup(context.Background(), &elb.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), TargetType: tt,
	}))
	return out.TargetGroups[0]
}

func (e *env) createListener(t *testing.T, lbARN string, port int32, tgARN string) types.Listener {
	t.Helper()
	out := sdktest.Must(e.client.CreateListener(context.Background(), &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(port),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}},
	}))
	return out.Listeners[0]
}

func pathRule(listenerARN string, prio int32, tgARN string, paths ...string) *elb.CreateRuleInput {
	return &elb.CreateRuleInput{
		ListenerArn: aws.String(listenerARN), Priority: aws.Int32(prio),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: paths}}},
		Actions:    []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}},
	}
}

func TestLoadBalancers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	web := e.createLB(t, "web")
	arn := aws.ToString(web.LoadBalancerArn)
	if !strings.HasPrefix(arn, "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/") || len(arn) != len("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/")+16 {
		t.Errorf("ARN %s", arn)
	}
	id := arn[strings.LastIndexByte(arn, '/')+1:]
	if got, want := aws.ToString(web.DNSName), "web-"+id+".us-east-1.elb.localhost"; got != want {
		t.Errorf("DNSName = %s, want %s", got, want)
	}
	if web.State == nil || web.State.Code != types.LoadBalancerStateEnumActive || web.Type != types.LoadBalancerTypeEnumApplication ||
		web.Scheme != types.LoadBalancerSchemeEnumInternetFacing || !aws.ToTime(web.CreatedTime).Equal(created) || len(web.AvailabilityZones) != 2 {
		t.Errorf("load balancer %+v", web)
	}

	// Same name and settings: the same load balancer.
	again := e.createLB(t, "web")
	if aws.ToString(again.LoadBalancerArn) != arn {
		t.Errorf("idempotent create returned %s", aws.ToString(again.LoadBalancerArn))
	}
	_, err := e.client.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: []string{"subnet-c"}})
	wantCode[*types.DuplicateLoadBalancerNameException](t, err, "DuplicateLoadBalancerName")
	_, err = e.client.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("net"), Type: types.LoadBalancerTypeEnumNetwork})
	wantCode[smithy.APIError](t, err, "ValidationError")

	e.createLB(t, "api")
	byName := sdktest.Must(e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"web"}}))
	if len(byName.LoadBalancers) != 1 || !reflect.DeepEqual(byName.LoadBalancers[0], web) {
		t.Errorf("DescribeLoadBalancers(web) = %+v\nwant %+v", byName.LoadBalancers, web)
	}
	byARN := sdktest.Must(e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}}))
	if len(byARN.LoadBalancers) != 1 || aws.ToString(byARN.LoadBalancers[0].LoadBalancerName) != "web" {
		t.Errorf("DescribeLoadBalancers(arn) = %+v", byARN.LoadBalancers)
	}
	all := sdktest.Must(e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{}))
	if len(all.LoadBalancers) != 2 {
		t.Errorf("DescribeLoadBalancers() = %d load balancers", len(all.LoadBalancers))
	}
	_, err = e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"web", "nope"}})
	wantCode[*types.LoadBalancerNotFoundException](t, err, "LoadBalancerNotFound")

	// The SDK's waiter sees it available at once.
	w := elb.NewLoadBalancerAvailableWaiter(e.client)
	if err := w.Wait(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"web"}}, 5*time.Second); err != nil {
		t.Errorf("LoadBalancerAvailable waiter: %v", err)
	}

	// Deleting takes the listeners and rules with it.
	tg := e.createTG(t, "tg", "")
	l := e.createListener(t, arn, 80, aws.ToString(tg.TargetGroupArn))
	sdktest.Must(e.client.CreateRule(ctx, pathRule(aws.ToString(l.ListenerArn), 1, aws.ToString(tg.TargetGroupArn), "/x")))
	sdktest.Must(e.client.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)}))
	_, err = e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}})
	wantCode[*types.LoadBalancerNotFoundException](t, err, "LoadBalancerNotFound")
	_, err = e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{aws.ToString(l.ListenerArn)}})
	wantCode[*types.ListenerNotFoundException](t, err, "ListenerNotFound")
	kvs, _, err := e.store.List(ctx, "/elbv2/rules/", store.ListOptions{})
	if err != nil || len(kvs) != 0 {
		t.Errorf("rules left after DeleteLoadBalancer: %d, %v", len(kvs), err)
	}
	// The target group is free again.
	sdktest.Must(e.client.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn}))
	// Deleting again succeeds.
	sdktest.Must(e.client.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(arn)}))
}

func TestTargetGroups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tg := e.createTG(t, "blue", "")
	arn := aws.ToString(tg.TargetGroupArn)
	if !strings.HasPrefix(arn, "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/") {
		t.Errorf("ARN %s", arn)
	}
	want := types.TargetGroup{
		TargetGroupArn: aws.String(arn), TargetGroupName: aws.String("blue"),
		Protocol: types.ProtocolEnumHttp, ProtocolVersion: aws.String("HTTP1"), Port: aws.Int32(8080),
		TargetType: types.TargetTypeEnumInstance, IpAddressType: types.TargetGroupIpAddressTypeEnumIpv4, VpcId: aws.String("vpc-flotilla"),
		HealthCheckEnabled: aws.Bool(true), HealthCheckProtocol: types.ProtocolEnumHttp, HealthCheckPort: aws.String("traffic-port"),
		HealthCheckPath: aws.String("/"), HealthCheckIntervalSeconds: aws.Int32(30), HealthCheckTimeoutSeconds: aws.Int32(5),
		HealthyThresholdCount: aws.Int32(5), UnhealthyThresholdCount: aws.Int32(2), Matcher: &types.Matcher{HttpCode: aws.String("200")},
		LoadBalancerArns: []string{}, // ELBv2 sends <LoadBalancerArns/>
	}
	if !reflect.DeepEqual(tg, want) {
		t.Errorf("CreateTargetGroup = %+v\nwant %+v", tg, want)
	}
	if again := e.createTG(t, "blue", ""); aws.ToString(again.TargetGroupArn) != arn {
		t.Errorf("idempotent create returned %s", aws.ToString(again.TargetGroupArn))
	}
	_, err := e.client.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("blue"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(9090)})
	wantCode[*types.DuplicateTargetGroupNameException](t, err, "DuplicateTargetGroupName")
	_, err = e.client.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("tcp"), Protocol: types.ProtocolEnumTcp, Port: aws.Int32(9090)})
	wantCode[*types.InvalidConfigurationRequestException](t, err, "InvalidConfigurationRequest")

	mod := sdktest.Must(e.client.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{
		TargetGroupArn: aws.String(arn), HealthCheckPath: aws.String("/healthz"), HealthCheckIntervalSeconds: aws.Int32(10),
		Matcher: &types.Matcher{HttpCode: aws.String("200-299")},
	}))
	if g := mod.TargetGroups[0]; aws.ToString(g.HealthCheckPath) != "/healthz" || aws.ToInt32(g.HealthCheckIntervalSeconds) != 10 || aws.ToString(g.Matcher.HttpCode) != "200-299" {
		t.Errorf("ModifyTargetGroup = %+v", g)
	}
	e.createTG(t, "green", types.TargetTypeEnumIp)
	desc := sdktest.Must(e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"blue"}}))
	if len(desc.TargetGroups) != 1 || aws.ToString(desc.TargetGroups[0].HealthCheckPath) != "/healthz" {
		t.Errorf("DescribeTargetGroups(blue) = %+v", desc.TargetGroups)
	}
	all := sdktest.Must(e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{}))
	if len(all.TargetGroups) != 2 {
		t.Errorf("DescribeTargetGroups() = %d groups", len(all.TargetGroups))
	}
	_, err = e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{arn + "0"}})
	wantCode[*types.TargetGroupNotFoundException](t, err, "TargetGroupNotFound")

	// Attributes: ELBv2's defaults, then changed.
	attrs := sdktest.Must(e.client.DescribeTargetGroupAttributes(ctx, &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(arn)}))
	got := map[string]string{}
	for _, a := range attrs.Attributes {
		got[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	if got["deregistration_delay.timeout_seconds"] != "300" || got["load_balancing.algorithm.type"] != "round_robin" || got["slow_start.duration_seconds"] != "0" {
		t.Errorf("default attributes %v", got)
	}
	mattrs := sdktest.Must(e.client.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{
		TargetGroupArn: aws.String(arn),
		Attributes:     []types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")}},
	}))
	for _, a := range mattrs.Attributes {
		if aws.ToString(a.Key) == "deregistration_delay.timeout_seconds" && aws.ToString(a.Value) != "5" {
			t.Errorf("modified attribute = %s", aws.ToString(a.Value))
		}
	}
	_, err = e.client.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{
		TargetGroupArn: aws.String(arn),
		Attributes:     []types.TargetGroupAttribute{{Key: aws.String("nope"), Value: aws.String("1")}},
	})
	wantCode[smithy.APIError](t, err, "ValidationError")

	// In use by a listener: not deleted.
	web := e.createLB(t, "web")
	l := e.createListener(t, aws.ToString(web.LoadBalancerArn), 80, arn)
	inLB := sdktest.Must(e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{LoadBalancerArn: web.LoadBalancerArn}))
	if len(inLB.TargetGroups) != 1 || !reflect.DeepEqual(inLB.TargetGroups[0].LoadBalancerArns, []string{aws.ToString(web.LoadBalancerArn)}) {
		t.Errorf("DescribeTargetGroups(load balancer) = %+v", inLB.TargetGroups)
	}
	_, err = e.client.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(arn)})
	wantCode[*types.ResourceInUseException](t, err, "ResourceInUse")
	sdktest.Must(e.client.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: l.ListenerArn}))
	sdktest.Must(e.client.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(arn)}))
	_, err = e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"blue"}})
	wantCode[*types.TargetGroupNotFoundException](t, err, "TargetGroupNotFound")
}

func TestTargets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tg := e.createTG(t, "ips", types.TargetTypeEnumIp)
	arn := tg.TargetGroupArn
	sdktest.Must(e.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: arn, Targets: []types.TargetDescription{
		{Id: aws.String("10.0.0.1")}, {Id: aws.String("10.0.0.2"), Port: aws.Int32(9000)}, {Id: aws.String("10.0.0.1")},
	}}))
	_, err := e.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: arn, Targets: []types.TargetDescription{{Id: aws.String("i-123")}}})
	wantCode[*types.InvalidTargetException](t, err, "InvalidTarget")
	_, err = e.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(strings.Replace(*arn, "/ips/", "/nope/", 1)), Targets: []types.TargetDescription{{Id: aws.String("10.0.0.3")}}})
	wantCode[*types.TargetGroupNotFoundException](t, err, "TargetGroupNotFound")

	// The data plane knows one target.
	e.health[*arn] = []lb.TargetHealth{{Target: lb.Target{ID: "10.0.0.2", Port: 9000}, State: lb.StateHealthy}}
	health := sdktest.Must(e.client.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: arn}))
	want := []types.TargetHealthDescription{
		{Target: &types.TargetDescription{Id: aws.String("10.0.0.1"), Port: aws.Int32(8080)}, HealthCheckPort: aws.String("8080"),
			TargetHealth: &types.TargetHealth{State: types.TargetHealthStateEnumInitial, Reason: types.TargetHealthReasonEnumRegistrationInProgress, Description: aws.String("Target registration is in progress")}},
		{Target: &types.TargetDescription{Id: aws.String("10.0.0.2"), Port: aws.Int32(9000)}, HealthCheckPort: aws.String("9000"),
			TargetHealth: &types.TargetHealth{State: types.TargetHealthStateEnumHealthy}},
	}
	if !reflect.DeepEqual(health.TargetHealthDescriptions, want) {
		t.Errorf("DescribeTargetHealth = %+v\nwant %+v", health.TargetHealthDescriptions, want)
	}
	unknown := sdktest.Must(e.client.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: arn, Targets: []types.TargetDescription{{Id: aws.String("10.0.0.9")}}}))
	if th := unknown.TargetHealthDescriptions[0].TargetHealth; th.State != types.TargetHealthStateEnumUnused || th.Reason != types.TargetHealthReasonEnumNotRegistered {
		t.Errorf("unregistered target health %+v", th)
	}

	// Health checks off: unavailable.
	sdktest.Must(e.client.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{TargetGroupArn: arn, HealthCheckEnabled: aws.Bool(false)}))
	off := sdktest.Must(e.client.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: arn, Targets: []types.TargetDescription{{Id: aws.String("10.0.0.1")}}}))
	if th := off.TargetHealthDescriptions[0].TargetHealth; th.State != types.TargetHealthStateEnumUnavailable {
		t.Errorf("health with checks disabled %+v", th)
	}

	sdktest.Must(e.client.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: arn, Targets: []types.TargetDescription{{Id: aws.String("10.0.0.1")}}}))
	left := sdktest.Must(e.client.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: arn}))
	if len(left.TargetHealthDescriptions) != 1 || aws.ToString(left.TargetHealthDescriptions[0].Target.Id) != "10.0.0.2" {
		t.Errorf("targets after deregistering: %+v", left.TargetHealthDescriptions)
	}
	_, err = e.client.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/0123456789abcdef")})
	wantCode[*types.TargetGroupNotFoundException](t, err, "TargetGroupNotFound")
}

func TestListenersAndRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	web := e.createLB(t, "web")
	lbARN := aws.ToString(web.LoadBalancerArn)
	tg := aws.ToString(e.createTG(t, "app", "").TargetGroupArn)
	other := aws.ToString(e.createTG(t, "other", "").TargetGroupArn)

	l := e.createListener(t, lbARN, 80, tg)
	lARN := aws.ToString(l.ListenerArn)
	if !strings.HasPrefix(lARN, strings.Replace(lbARN, ":loadbalancer/", ":listener/", 1)+"/") {
		t.Errorf("listener ARN %s", lARN)
	}
	_, err := e.client.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}}})
	wantCode[*types.DuplicateListenerException](t, err, "DuplicateListener")
	_, err = e.client.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(81),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tg + "0")}}})
	wantCode[*types.TargetGroupNotFoundException](t, err, "TargetGroupNotFound")
	_, err = e.client.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN + "0"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(81),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}}})
	wantCode[*types.LoadBalancerNotFoundException](t, err, "LoadBalancerNotFound")

	fixed := sdktest.Must(e.client.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain"), MessageBody: aws.String("no")}}}}))
	redirect := sdktest.Must(e.client.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8081),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{Port: aws.String("80"), StatusCode: types.RedirectActionStatusCodeEnumHttp301}}}}))
	listeners := sdktest.Must(e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)}))
	if len(listeners.Listeners) != 3 {
		t.Errorf("DescribeListeners = %d listeners", len(listeners.Listeners))
	}
	byARN := sdktest.Must(e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{aws.ToString(fixed.Listeners[0].ListenerArn)}}))
	if !reflect.DeepEqual(byARN.Listeners, fixed.Listeners) {
		t.Errorf("DescribeListeners(arn) = %+v\nwant %+v", byARN.Listeners, fixed.Listeners)
	}
	sdktest.Must(e.client.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: redirect.Listeners[0].ListenerArn}))
	_, err = e.client.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: redirect.Listeners[0].ListenerArn})
	wantCode[*types.ListenerNotFoundException](t, err, "ListenerNotFound")

	// Rules.
	r1 := sdktest.Must(e.client.CreateRule(ctx, &elb.CreateRuleInput{
		ListenerArn: aws.String(lARN), Priority: aws.Int32(10),
		Conditions: []types.RuleCondition{
			{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: []string{"api.example.com"}}},
			{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Env"), Values: []string{"prod"}}},
			{Field: aws.String("http-request-method"), HttpRequestMethodConfig: &types.HttpRequestMethodConditionConfig{Values: []string{"GET"}}},
			{Field: aws.String("query-string"), QueryStringConfig: &types.QueryStringConditionConfig{Values: []types.QueryStringKeyValuePair{{Key: aws.String("v"), Value: aws.String("2")}}}},
			{Field: aws.String("source-ip"), SourceIpConfig: &types.SourceIpConditionConfig{Values: []string{"10.0.0.0/8"}}},
		},
		Actions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{TargetGroups: []types.TargetGroupTuple{
			{TargetGroupArn: aws.String(tg), Weight: aws.Int32(80)}, {TargetGroupArn: aws.String(other), Weight: aws.Int32(20)},
		}}}},
	})).Rules[0]
	if aws.ToString(r1.Priority) != "10" || aws.ToBool(r1.IsDefault) || len(r1.Conditions) != 5 ||
		!strings.HasPrefix(aws.ToString(r1.RuleArn), strings.Replace(lARN, ":listener/", ":listener-rule/", 1)+"/") {
		t.Errorf("CreateRule = %+v", r1)
	}
	r2 := sdktest.Must(e.client.CreateRule(ctx, pathRule(lARN, 5, tg, "/v1/*"))).Rules[0]
	if c := r2.Conditions[0]; !reflect.DeepEqual(c.Values, []string{"/v1/*"}) || !reflect.DeepEqual(c.PathPatternConfig.Values, []string{"/v1/*"}) {
		t.Errorf("path condition %+v", c)
	}

	_, err = e.client.CreateRule(ctx, pathRule(lARN, 5, tg, "/v2/*"))
	wantCode[*types.PriorityInUseException](t, err, "PriorityInUse")
	_, err = e.client.CreateRule(ctx, pathRule(lARN, 6, tg, "/1", "/2", "/3", "/4", "/5", "/6"))
	wantCode[smithy.APIError](t, err, "ValidationError")
	_, err = e.client.CreateRule(ctx, pathRule(lARN, 60000, tg, "/1"))
	wantCode[smithy.APIError](t, err, "ValidationError")
	_, err = e.client.CreateRule(ctx, pathRule(lARN+"0", 7, tg, "/1"))
	wantCode[*types.ListenerNotFoundException](t, err, "ListenerNotFound")

	rules := sdktest.Must(e.client.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: aws.String(lARN)})).Rules
	var prios []string
	for _, r := range rules {
		prios = append(prios, aws.ToString(r.Priority))
	}
	if !reflect.DeepEqual(prios, []string{"5", "10", "default"}) {
		t.Fatalf("DescribeRules priorities %v", prios)
	}
	def := rules[2]
	if !aws.ToBool(def.IsDefault) || aws.ToString(def.Actions[0].TargetGroupArn) != tg {
		t.Errorf("default rule %+v", def)
	}
	if !reflect.DeepEqual(rules[1], r1) {
		t.Errorf("described rule %+v\nwant %+v", rules[1], r1)
	}
	byRuleARN := sdktest.Must(e.client.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{aws.ToString(def.RuleArn), aws.ToString(r2.RuleArn)}}))
	if len(byRuleARN.Rules) != 2 || !aws.ToBool(byRuleARN.Rules[0].IsDefault) {
		t.Errorf("DescribeRules(arns) = %+v", byRuleARN.Rules)
	}

	// Modify, reorder, delete.
	mod := sdktest.Must(e.client.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: r2.RuleArn,
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/v3/*"}}}}))
	if c := mod.Rules[0].Conditions[0]; !reflect.DeepEqual(c.PathPatternConfig.Values, []string{"/v3/*"}) || aws.ToString(mod.Rules[0].Actions[0].TargetGroupArn) != tg {
		t.Errorf("ModifyRule = %+v", mod.Rules[0])
	}
	modDef := sdktest.Must(e.client.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: def.RuleArn,
		Actions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(other)}}}))
	if aws.ToString(modDef.Rules[0].Actions[0].TargetGroupArn) != other {
		t.Errorf("ModifyRule(default) = %+v", modDef.Rules[0])
	}
	_, err = e.client.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: def.RuleArn, Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/"}}}})
	wantCode[*types.OperationNotPermittedException](t, err, "OperationNotPermitted")

	_, err = e.client.SetRulePriorities(ctx, &elb.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{{RuleArn: r2.RuleArn, Priority: aws.Int32(10)}}})
	wantCode[*types.PriorityInUseException](t, err, "PriorityInUse")
	swapped := sdktest.Must(e.client.SetRulePriorities(ctx, &elb.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{
		{RuleArn: r2.RuleArn, Priority: aws.Int32(10)}, {RuleArn: r1.RuleArn, Priority: aws.Int32(5)},
	}}))
	if len(swapped.Rules) != 2 || aws.ToString(swapped.Rules[0].Priority) != "10" || aws.ToString(swapped.Rules[1].Priority) != "5" {
		t.Errorf("SetRulePriorities = %+v", swapped.Rules)
	}
	_, err = e.client.SetRulePriorities(ctx, &elb.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{{RuleArn: def.RuleArn, Priority: aws.Int32(3)}}})
	wantCode[*types.OperationNotPermittedException](t, err, "OperationNotPermitted")

	_, err = e.client.DeleteRule(ctx, &elb.DeleteRuleInput{RuleArn: def.RuleArn})
	wantCode[*types.OperationNotPermittedException](t, err, "OperationNotPermitted")
	sdktest.Must(e.client.DeleteRule(ctx, &elb.DeleteRuleInput{RuleArn: r2.RuleArn}))
	_, err = e.client.DeleteRule(ctx, &elb.DeleteRuleInput{RuleArn: r2.RuleArn})
	wantCode[*types.RuleNotFoundException](t, err, "RuleNotFound")
	// The other target group is in use by the remaining rule and the default.
	_, err = e.client.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(other)})
	wantCode[*types.ResourceInUseException](t, err, "ResourceInUse")
}

func TestBuildConfig(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	web := e.createLB(t, "web")
	lbARN := aws.ToString(web.LoadBalancerArn)
	tg := aws.ToString(e.createTG(t, "app", types.TargetTypeEnumIp).TargetGroupArn)
	sdktest.Must(e.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tg), Targets: []types.TargetDescription{
		{Id: aws.String("10.0.0.1")}, {Id: aws.String("10.0.0.2"), Port: aws.Int32(9000)},
	}}))
	l, err := e.client.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("404")}}}})
	if err != nil {
		t.Fatal(err)
	}
	lARN := aws.ToString(l.Listeners[0].ListenerArn)
	r := sdktest.Must(e.client.CreateRule(ctx, pathRule(lARN, 1, tg, "/api/*"))).Rules[0]

	got, _, err := elbdomain.BuildConfig(ctx, e.store)
	if err != nil {
		t.Fatal(err)
	}
	want := lb.Config{
		LoadBalancers: []lb.LoadBalancer{{ARN: lbARN, Name: "web", IdleTimeoutSeconds: 60}},
		Listeners: []lb.Listener{{ARN: lARN, LoadBalancerARN: lbARN, Port: 80, Protocol: "HTTP",
			DefaultActions: []lb.Action{{Type: "fixed-response", FixedResponseConfig: &lb.FixedResponseConfig{StatusCode: "404"}}}}},
		Rules: []lb.Rule{{ARN: aws.ToString(r.RuleArn), ListenerARN: lARN, Priority: 1,
			Conditions: []lb.Condition{{Field: "path-pattern", Values: []string{"/api/*"}}},
			Actions:    []lb.Action{{Type: "forward", TargetGroupARN: tg}}}},
		TargetGroups: []lb.TargetGroup{{
			ARN: tg, Name: "app", Protocol: "HTTP", Port: 8080, TargetType: "ip",
			HealthCheck: lb.HealthCheck{Protocol: "HTTP", Port: "traffic-port", Path: "/", IntervalSeconds: 30, TimeoutSeconds: 5,
				HealthyThresholdCount: 5, UnhealthyThresholdCount: 2, Matcher: lb.Matcher{HTTPCode: "200"}},
			Attributes: map[string]string{
				"deregistration_delay.timeout_seconds": "300", "load_balancing.algorithm.type": "round_robin", "slow_start.duration_seconds": "0",
				"stickiness.enabled": "false", "stickiness.type": "lb_cookie", "stickiness.lb_cookie.duration_seconds": "86400",
			},
			Targets: []lb.Target{{ID: "10.0.0.1"}, {ID: "10.0.0.2", Port: 9000}},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BuildConfig =\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the data plane rejects the config: %v", err)
	}

	// The idle timeout goes to the nodes.
	sdktest.Must(e.client.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN),
		Attributes: []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("7")}}}))
	if got, _, err = elbdomain.BuildConfig(ctx, e.store); err != nil || got.LoadBalancers[0].IdleTimeoutSeconds != 7 {
		t.Errorf("BuildConfig after setting idle_timeout.timeout_seconds to 7: %+v, %v", got.LoadBalancers, err)
	}
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	web := sdktest.Must(e.client.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name: aws.String("web"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("edge")}},
	})).LoadBalancers[0]
	tg := e.createTG(t, "app", "")
	arns := []string{aws.ToString(web.LoadBalancerArn), aws.ToString(tg.TargetGroupArn)}
	sdktest.Must(e.client.AddTags(ctx, &elb.AddTagsInput{ResourceArns: arns, Tags: []types.Tag{
		{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("core")},
	}}))
	sdktest.Must(e.client.RemoveTags(ctx, &elb.RemoveTagsInput{ResourceArns: arns[1:], TagKeys: []string{"env"}}))
	got := sdktest.Must(e.client.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: arns})).TagDescriptions
	want := []types.TagDescription{
		{ResourceArn: aws.String(arns[0]), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("core")}, {Key: aws.String("env"), Value: aws.String("prod")}}},
		{ResourceArn: aws.String(arns[1]), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("core")}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DescribeTags = %+v\nwant %+v", got, want)
	}
	// The stored layout, which upgrades read: a list of key and value.
	kv, err := e.store.Get(ctx, "/elbv2/tags/"+arns[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"key":"team","value":"core"},{"key":"env","value":"prod"}]`; string(kv.Value) != want {
		t.Errorf("stored tags: %s, want %s", kv.Value, want)
	}
	_, err = e.client.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{arns[1] + "0"}, Tags: []types.Tag{{Key: aws.String("k")}}})
	wantCode[*types.TargetGroupNotFoundException](t, err, "TargetGroupNotFound")

	// Deleted with the resource: a new one of the same name has none.
	sdktest.Must(e.client.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn}))
	if kvs, _, err := e.store.List(ctx, "/elbv2/tags/"+arns[1], store.ListOptions{}); err != nil || len(kvs) != 0 {
		t.Errorf("tags left after DeleteTargetGroup: %d, %v", len(kvs), err)
	}
}

// TestConcurrentPriority: of rules created at once at one priority, one
// wins and the others get PriorityInUse.
func TestConcurrentPriority(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	web := e.createLB(t, "web")
	tg := aws.ToString(e.createTG(t, "app", "").TargetGroupArn)
	l := aws.ToString(e.createListener(t, aws.ToString(web.LoadBalancerArn), 80, tg).ListenerArn)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = e.client.CreateRule(ctx, pathRule(l, 7, tg, "/x"))
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantCode[*types.PriorityInUseException](t, err, "PriorityInUse")
	}
	if won != 1 {
		t.Errorf("%d rules created at one priority", won)
	}
}

// TestTagLimits: at most flotilla.MaxTags tags a resource, counted after
// AddTags replaces the values of keys the resource has; a key given twice
// is DuplicateTagKeys.
func TestTagLimits(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tags := func(from, n int) []types.Tag {
		var out []types.Tag
		for i := range n {
			out = append(out, types.Tag{Key: aws.String(fmt.Sprintf("k%d", from+i)), Value: aws.String("v")})
		}
		return out
	}
	_, err := e.client.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("many"), Tags: tags(0, 51)})
	wantCode[*types.TooManyTagsException](t, err, "TooManyTags")
	_, err = e.client.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("twice"), Tags: append(tags(0, 1), tags(0, 1)...)})
	wantCode[*types.DuplicateTagKeysException](t, err, "DuplicateTagKeys")

	arn := aws.ToString(sdktest.Must(e.client.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name: aws.String("web"), Tags: tags(0, 49)})).LoadBalancers[0].LoadBalancerArn)
	// Two tags, one of them a new value of a key it has: 50.
	sdktest.Must(e.client.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{arn}, Tags: tags(48, 2)}))
	_, err = e.client.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{arn}, Tags: tags(50, 1)})
	wantCode[*types.TooManyTagsException](t, err, "TooManyTags")
	var ae smithy.APIError
	if errors.As(err, &ae) && !strings.Contains(ae.ErrorMessage(), "50") {
		t.Errorf("TooManyTags message %q does not name the limit", ae.ErrorMessage())
	}
	got := sdktest.Must(e.client.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{arn}})).TagDescriptions[0].Tags
	if len(got) != 50 {
		t.Errorf("after a refused AddTags: %d tags, want 50", len(got))
	}
}
