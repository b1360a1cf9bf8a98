package elbv2_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla/internal/sdktest"
)

func forward(tgARN string) []types.Action {
	return []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
}

func TestModifyListener(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	web := aws.ToString(e.createLB(t, "web").LoadBalancerArn)
	api := aws.ToString(e.createLB(t, "api").LoadBalancerArn)
	blue := aws.ToString(e.createTG(t, "blue", "").TargetGroupArn)
	green := aws.ToString(e.createTG(t, "green", "").TargetGroupArn)
	l := e.createListener(t, web, 80, blue)
	e.createListener(t, web, 81, blue)
	e.createListener(t, api, 8090, blue)

	// Port and default actions at once; the rest stays.
	got := sdktest.Must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn, Port: aws.Int32(8080), DefaultActions: forward(green)})).Listeners
	want := l
	want.Port, want.DefaultActions = aws.Int32(8080), forward(green)
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("ModifyListener = %+v\nwant %+v", got, want)
	}
	desc := sdktest.Must(e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{aws.ToString(l.ListenerArn)}})).Listeners
	if !reflect.DeepEqual(desc, got) {
		t.Errorf("DescribeListeners after ModifyListener = %+v\nwant %+v", desc, got)
	}
	rules := sdktest.Must(e.client.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: l.ListenerArn})).Rules
	if len(rules) != 1 || !reflect.DeepEqual(rules[0].Actions, forward(green)) {
		t.Errorf("default rule after ModifyListener = %+v", rules)
	}
	// The old group is free, the new one in use.
	sdktest.Must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn, Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080)}))
	inUse := sdktest.Must(e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{green}})).TargetGroups[0]
	if !reflect.DeepEqual(inUse.LoadBalancerArns, []string{web}) {
		t.Errorf("load balancers of the new default group: %v", inUse.LoadBalancerArns)
	}

	for _, tc := range []struct {
		name string
		in   elb.ModifyListenerInput
		code string
		err  error // the SDK's type for the code
	}{
		{"port of another listener", elb.ModifyListenerInput{Port: aws.Int32(81)}, "DuplicateListener", &types.DuplicateListenerException{}},
		// Every load balancer listens on the nodes' one address.
		{"port of another load balancer", elb.ModifyListenerInput{Port: aws.Int32(8090)}, "DuplicateListener", &types.DuplicateListenerException{}},
		{"HTTPS without a certificate", elb.ModifyListenerInput{Protocol: types.ProtocolEnumHttps}, "ValidationError", nil},
		{"TCP", elb.ModifyListenerInput{Protocol: types.ProtocolEnumTcp}, "UnsupportedProtocol", &types.UnsupportedProtocolException{}},
		{"certificates", elb.ModifyListenerInput{Certificates: []types.Certificate{{CertificateArn: aws.String("arn:aws:acm:us-east-1:123456789012:certificate/x")}}}, "ValidationError", nil},
		{"SSL policy", elb.ModifyListenerInput{SslPolicy: aws.String("ELBSecurityPolicy-2016-08")}, "ValidationError", nil},
		{"ALPN policy", elb.ModifyListenerInput{AlpnPolicy: []string{"HTTP2Only"}}, "ValidationError", nil},
		{"port 0", elb.ModifyListenerInput{Port: aws.Int32(0)}, "ValidationError", nil},
		{"port 65536", elb.ModifyListenerInput{Port: aws.Int32(65536)}, "ValidationError", nil},
		{"no action", elb.ModifyListenerInput{DefaultActions: []types.Action{}}, "ValidationError", nil},
		{"unknown target group", elb.ModifyListenerInput{DefaultActions: forward(green + "0")}, "TargetGroupNotFound", &types.TargetGroupNotFoundException{}},
		{"unknown listener", elb.ModifyListenerInput{ListenerArn: aws.String(aws.ToString(l.ListenerArn) + "0"), Port: aws.Int32(90)}, "ListenerNotFound", &types.ListenerNotFoundException{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.ListenerArn == nil {
				in.ListenerArn = l.ListenerArn
			}
			_, err := e.client.ModifyListener(ctx, &in)
			switch tc.err.(type) {
			case *types.DuplicateListenerException:
				wantCode[*types.DuplicateListenerException](t, err, tc.code)
			case *types.UnsupportedProtocolException:
				wantCode[*types.UnsupportedProtocolException](t, err, tc.code)
			case *types.TargetGroupNotFoundException:
				wantCode[*types.TargetGroupNotFoundException](t, err, tc.code)
			case *types.ListenerNotFoundException:
				wantCode[*types.ListenerNotFoundException](t, err, tc.code)
			default:
				wantCode[smithy.APIError](t, err, tc.code)
			}
		})
	}
	// A failed modification changed nothing.
	if now := sdktest.Must(e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{aws.ToString(l.ListenerArn)}})).Listeners; !reflect.DeepEqual(now, got) {
		t.Errorf("listener after failed modifications = %+v\nwant %+v", now, got)
	}

	// CreateListener refuses the settings of HTTPS listeners on HTTP too.
	_, err := e.client.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: aws.String(web), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(82),
		DefaultActions: forward(blue), SslPolicy: aws.String("ELBSecurityPolicy-2016-08")})
	wantCode[smithy.APIError](t, err, "ValidationError")
}

func attributeMap(attrs []types.LoadBalancerAttribute) map[string]string {
	m := map[string]string{}
	for _, a := range attrs {
		m[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	return m
}

func TestLoadBalancerAttributes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	web := e.createLB(t, "web")
	arn := web.LoadBalancerArn

	defaults := attributeMap(sdktest.Must(e.client.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: arn})).Attributes)
	for k, v := range map[string]string{
		"idle_timeout.timeout_seconds": "60", "deletion_protection.enabled": "false", "routing.http2.enabled": "true",
		"routing.http.drop_invalid_header_fields.enabled": "false", "access_logs.s3.enabled": "false", "access_logs.s3.bucket": "",
		"load_balancing.cross_zone.enabled": "true", "routing.http.desync_mitigation_mode": "defensive",
		"routing.http.xff_header_processing.mode": "append", "client_keep_alive.seconds": "3600",
	} {
		if got, ok := defaults[k]; !ok || got != v {
			t.Errorf("default %s = %q (present %v), want %q", k, got, ok, v)
		}
	}

	mod := attributeMap(sdktest.Must(e.client.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: arn, Attributes: []types.LoadBalancerAttribute{
		{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("120")},
		{Key: aws.String("deletion_protection.enabled"), Value: aws.String("true")},
		{Key: aws.String("routing.http2.enabled"), Value: aws.String("false")},
	}})).Attributes)
	want := map[string]string{}
	for k, v := range defaults {
		want[k] = v
	}
	want["idle_timeout.timeout_seconds"], want["deletion_protection.enabled"], want["routing.http2.enabled"] = "120", "true", "false"
	if !reflect.DeepEqual(mod, want) {
		t.Errorf("ModifyLoadBalancerAttributes = %v\nwant %v", mod, want)
	}
	if got := attributeMap(sdktest.Must(e.client.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: arn})).Attributes); !reflect.DeepEqual(got, want) {
		t.Errorf("DescribeLoadBalancerAttributes after modifying = %v\nwant %v", got, want)
	}
	// Creating it again, with the same settings, keeps its attributes.
	e.createLB(t, "web")
	if got := attributeMap(sdktest.Must(e.client.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: arn})).Attributes); !reflect.DeepEqual(got, want) {
		t.Errorf("attributes after an idempotent create = %v", got)
	}

	for _, tc := range []struct {
		key, value, code string
	}{
		{"idle_timeout.timeout_seconds", "0", "ValidationError"},
		{"idle_timeout.timeout_seconds", "4001", "ValidationError"},
		{"idle_timeout.timeout_seconds", "soon", "ValidationError"},
		{"deletion_protection.enabled", "yes", "ValidationError"},
		{"routing.http.desync_mitigation_mode", "lenient", "ValidationError"},
		{"client_keep_alive.seconds", "59", "ValidationError"},
		{"no.such.key", "1", "ValidationError"},
		{"access_logs.s3.enabled", "true", "ValidationError"}, // without a bucket
		{"load_balancing.cross_zone.enabled", "false", "InvalidConfigurationRequest"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			_, err := e.client.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: arn,
				Attributes: []types.LoadBalancerAttribute{{Key: aws.String(tc.key), Value: aws.String(tc.value)}}})
			if tc.code == "InvalidConfigurationRequest" {
				wantCode[*types.InvalidConfigurationRequestException](t, err, tc.code)
			} else {
				wantCode[smithy.APIError](t, err, tc.code)
			}
		})
	}
	logs := attributeMap(sdktest.Must(e.client.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: arn, Attributes: []types.LoadBalancerAttribute{
		{Key: aws.String("access_logs.s3.enabled"), Value: aws.String("true")}, {Key: aws.String("access_logs.s3.bucket"), Value: aws.String("logs")},
	}})).Attributes)
	if logs["access_logs.s3.enabled"] != "true" || logs["access_logs.s3.bucket"] != "logs" || logs["idle_timeout.timeout_seconds"] != "120" {
		t.Errorf("attributes after enabling access logs: %v", logs)
	}

	unknown := aws.String(aws.ToString(arn) + "0")
	_, err := e.client.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: unknown})
	wantCode[*types.LoadBalancerNotFoundException](t, err, "LoadBalancerNotFound")
	_, err = e.client.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: unknown,
		Attributes: []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("30")}}})
	wantCode[*types.LoadBalancerNotFoundException](t, err, "LoadBalancerNotFound")

	// Deletion protection: the load balancer and its listener stay.
	tg := aws.ToString(e.createTG(t, "app", "").TargetGroupArn)
	l := e.createListener(t, aws.ToString(arn), 80, tg)
	_, err = e.client.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: arn})
	wantCode[*types.OperationNotPermittedException](t, err, "OperationNotPermitted")
	sdktest.Must(e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{aws.ToString(arn)}}))
	sdktest.Must(e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{aws.ToString(l.ListenerArn)}}))
	sdktest.Must(e.client.ModifyLoadBalancerAttributes(ctx, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: arn,
		Attributes: []types.LoadBalancerAttribute{{Key: aws.String("deletion_protection.enabled"), Value: aws.String("false")}}}))
	sdktest.Must(e.client.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: arn}))
	_, err = e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"web"}})
	wantCode[*types.LoadBalancerNotFoundException](t, err, "LoadBalancerNotFound")
	// A new load balancer of the same name starts from the defaults.
	again := e.createLB(t, "web")
	if got := attributeMap(sdktest.Must(e.client.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: again.LoadBalancerArn})).Attributes); !reflect.DeepEqual(got, defaults) {
		t.Errorf("attributes of a new load balancer = %v\nwant %v", got, defaults)
	}
}
