package elbv2_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/flotilla/flotilla/internal/model"
	"github.com/flotilla/flotilla/internal/model/elbv2"
)

// The round trips go through the real aws-sdk-go-v2 ELBv2 client, whose
// HTTP client is replaced by one that decodes the request with the
// generated UnmarshalQuery and answers with the generated
// MarshalQueryResult: what the SDK sends must decode to the input we
// expect, and what we write must parse to the output the SDK user expects.

type input interface {
	UnmarshalQuery(*model.QueryNode) error
	Validate() error
}

type result interface{ MarshalQueryResult(*model.XMLWriter) }

// fakeELB is an HTTP client standing for the ELBv2 endpoint.
type fakeELB struct {
	t      *testing.T
	in     input  // decoded into
	out    result // answered
	action string // seen
	form   url.Values
	body   []byte // answered
}

func (f *fakeELB) Do(r *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.t.Errorf("Content-Type = %q", ct)
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		f.t.Fatalf("SDK sent a malformed form %q: %v", b, err)
	}
	f.form, f.action = form, form.Get("Action")
	if v := form.Get("Version"); v != elbv2.APIVersion {
		f.t.Errorf("Version = %q", v)
	}
	if err := f.in.UnmarshalQuery(model.ParseQuery(form)); err != nil {
		f.t.Errorf("UnmarshalQuery(%s): %v", b, err)
	}
	var w model.XMLWriter
	w.StartNS(f.action+"Response", elbv2.XMLNamespace)
	f.out.MarshalQueryResult(&w)
	w.Start("ResponseMetadata")
	w.Element("RequestId", "req-1")
	w.End("ResponseMetadata")
	w.End(f.action + "Response")
	f.body = bytes.Clone(w.Bytes())
	return &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"text/xml"}},
		Body:       io.NopCloser(bytes.NewReader(f.body)),
		Request:    r,
	}, nil
}

func client(f *fakeELB) *sdk.Client {
	return sdk.New(sdk.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String("http://elb.test"),
		Credentials:      aws.AnonymousCredentials{},
		HTTPClient:       f,
		RetryMaxAttempts: 1,
	})
}

var created = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

const (
	lbARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
	tgA   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/73e2d6bc24d8a067"
	tgB   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/09e6c4bb0e1b7e3d"
	lsARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		call    func(context.Context, *sdk.Client) (any, error) // the SDK's call
		in      input                                           // a new input to decode into
		wantIn  input                                           // what it must decode to
		out     result                                          // what we answer
		wantOut any                                             // what the SDK must parse
	}{
		{
			name: "CreateLoadBalancer",
			call: func(ctx context.Context, c *sdk.Client) (any, error) {
				return c.CreateLoadBalancer(ctx, &sdk.CreateLoadBalancerInput{
					Name:           aws.String("web"),
					Subnets:        []string{"subnet-a", "subnet-b"},
					SecurityGroups: []string{},
					Scheme:         types.LoadBalancerSchemeEnumInternetFacing,
					Type:           types.LoadBalancerTypeEnumApplication,
					Tags:           []types.Tag{{Key: aws.String("team"), Value: aws.String("a+b=c/d:e@f")}, {Key: aws.String("empty")}},
				})
			},
			in: new(elbv2.CreateLoadBalancerInput),
			wantIn: &elbv2.CreateLoadBalancerInput{
				Name:           aws.String("web"),
				Subnets:        []string{"subnet-a", "subnet-b"},
				SecurityGroups: []string{}, // sent as SecurityGroups=
				Scheme:         elbv2.LoadBalancerSchemeEnumInternetFacing,
				Type:           elbv2.LoadBalancerTypeEnumApplication,
				Tags:           []elbv2.Tag{{Key: aws.String("team"), Value: aws.String("a+b=c/d:e@f")}, {Key: aws.String("empty")}},
			},
			out: &elbv2.CreateLoadBalancerOutput{LoadBalancers: []elbv2.LoadBalancer{{
				LoadBalancerArn:  aws.String(lbARN),
				LoadBalancerName: aws.String("web"),
				DNSName:          aws.String("web-1234.us-east-1.elb.flotilla.internal"),
				CreatedTime:      &model.Time{Time: created},
				Scheme:           elbv2.LoadBalancerSchemeEnumInternetFacing,
				Type:             elbv2.LoadBalancerTypeEnumApplication,
				IpAddressType:    elbv2.IpAddressTypeIpv4,
				VpcId:            aws.String("vpc-1"),
				State:            &elbv2.LoadBalancerState{Code: elbv2.LoadBalancerStateEnumProvisioning},
				AvailabilityZones: []elbv2.AvailabilityZone{
					{ZoneName: aws.String("us-east-1a"), SubnetId: aws.String("subnet-a"), LoadBalancerAddresses: []elbv2.LoadBalancerAddress{{IpAddress: aws.String("10.0.0.5")}}},
					{ZoneName: aws.String("us-east-1b"), SubnetId: aws.String("subnet-b")},
				},
				SecurityGroups: []string{},
			}}},
			wantOut: &sdk.CreateLoadBalancerOutput{LoadBalancers: []types.LoadBalancer{{
				LoadBalancerArn:  aws.String(lbARN),
				LoadBalancerName: aws.String("web"),
				DNSName:          aws.String("web-1234.us-east-1.elb.flotilla.internal"),
				CreatedTime:      aws.Time(created),
				Scheme:           types.LoadBalancerSchemeEnumInternetFacing,
				Type:             types.LoadBalancerTypeEnumApplication,
				IpAddressType:    types.IpAddressTypeIpv4,
				VpcId:            aws.String("vpc-1"),
				State:            &types.LoadBalancerState{Code: types.LoadBalancerStateEnumProvisioning},
				AvailabilityZones: []types.AvailabilityZone{
					{ZoneName: aws.String("us-east-1a"), SubnetId: aws.String("subnet-a"), LoadBalancerAddresses: []types.LoadBalancerAddress{{IpAddress: aws.String("10.0.0.5")}}},
					{ZoneName: aws.String("us-east-1b"), SubnetId: aws.String("subnet-b")},
				},
				SecurityGroups: []string{},
			}}},
		},
		{
			name: "CreateTargetGroup",
			call: func(ctx context.Context, c *sdk.Client) (any, error) {
				return c.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{
					Name:                       aws.String("blue"),
					Protocol:                   types.ProtocolEnumHttp,
					Port:                       aws.Int32(8080),
					VpcId:                      aws.String("vpc-1"),
					TargetType:                 types.TargetTypeEnumIp,
					HealthCheckEnabled:         aws.Bool(false),
					HealthCheckPath:            aws.String("/healthz"),
					HealthCheckIntervalSeconds: aws.Int32(10),
					HealthyThresholdCount:      aws.Int32(2),
					Matcher:                    &types.Matcher{HttpCode: aws.String("200-299")},
				})
			},
			in: new(elbv2.CreateTargetGroupInput),
			wantIn: &elbv2.CreateTargetGroupInput{
				Name:                       aws.String("blue"),
				Protocol:                   elbv2.ProtocolEnumHttp,
				Port:                       aws.Int32(8080),
				VpcId:                      aws.String("vpc-1"),
				TargetType:                 elbv2.TargetTypeEnumIp,
				HealthCheckEnabled:         aws.Bool(false),
				HealthCheckPath:            aws.String("/healthz"),
				HealthCheckIntervalSeconds: aws.Int32(10),
				HealthyThresholdCount:      aws.Int32(2),
				Matcher:                    &elbv2.Matcher{HttpCode: aws.String("200-299")},
			},
			out: &elbv2.CreateTargetGroupOutput{TargetGroups: []elbv2.TargetGroup{{
				TargetGroupArn:     aws.String(tgA),
				TargetGroupName:    aws.String("blue"),
				Protocol:           elbv2.ProtocolEnumHttp,
				Port:               aws.Int32(8080),
				HealthCheckEnabled: aws.Bool(false),
				HealthCheckPath:    aws.String("/healthz"),
				Matcher:            &elbv2.Matcher{HttpCode: aws.String("200-299")},
				LoadBalancerArns:   []string{lbARN},
				TargetType:         elbv2.TargetTypeEnumIp,
			}}},
			wantOut: &sdk.CreateTargetGroupOutput{TargetGroups: []types.TargetGroup{{
				TargetGroupArn:     aws.String(tgA),
				TargetGroupName:    aws.String("blue"),
				Protocol:           types.ProtocolEnumHttp,
				Port:               aws.Int32(8080),
				HealthCheckEnabled: aws.Bool(false),
				HealthCheckPath:    aws.String("/healthz"),
				Matcher:            &types.Matcher{HttpCode: aws.String("200-299")},
				LoadBalancerArns:   []string{lbARN},
				TargetType:         types.TargetTypeEnumIp,
			}}},
		},
		{
			name: "CreateRule",
			call: func(ctx context.Context, c *sdk.Client) (any, error) {
				return c.CreateRule(ctx, &sdk.CreateRuleInput{
					ListenerArn: aws.String(lsARN),
					Priority:    aws.Int32(10),
					Conditions: []types.RuleCondition{
						{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/api/*", "/v2/*"}}},
						{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Canary"), Values: []string{"1"}}},
						{Field: aws.String("query-string"), QueryStringConfig: &types.QueryStringConditionConfig{Values: []types.QueryStringKeyValuePair{{Key: aws.String("v"), Value: aws.String("2")}}}},
					},
					Actions: []types.Action{{
						Type:  types.ActionTypeEnumAuthenticateOidc,
						Order: aws.Int32(1),
						AuthenticateOidcConfig: &types.AuthenticateOidcActionConfig{
							Issuer: aws.String("https://idp.example.com"), AuthorizationEndpoint: aws.String("https://idp.example.com/auth"),
							TokenEndpoint: aws.String("https://idp.example.com/token"), UserInfoEndpoint: aws.String("https://idp.example.com/userinfo"),
							ClientId: aws.String("client"), SessionTimeout: aws.Int64(604800),
							AuthenticationRequestExtraParams: map[string]string{"prompt": "login", "display": "page"},
						},
					}, {
						Type:  types.ActionTypeEnumForward,
						Order: aws.Int32(2),
						ForwardConfig: &types.ForwardActionConfig{
							TargetGroups: []types.TargetGroupTuple{
								{TargetGroupArn: aws.String(tgA), Weight: aws.Int32(90)},
								{TargetGroupArn: aws.String(tgB), Weight: aws.Int32(10)},
							},
							TargetGroupStickinessConfig: &types.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(300)},
						},
					}},
				})
			},
			in: new(elbv2.CreateRuleInput),
			wantIn: &elbv2.CreateRuleInput{
				ListenerArn: aws.String(lsARN),
				Priority:    aws.Int32(10),
				Conditions: []elbv2.RuleCondition{
					{Field: aws.String("path-pattern"), PathPatternConfig: &elbv2.PathPatternConditionConfig{Values: []string{"/api/*", "/v2/*"}}},
					{Field: aws.String("http-header"), HttpHeaderConfig: &elbv2.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Canary"), Values: []string{"1"}}},
					{Field: aws.String("query-string"), QueryStringConfig: &elbv2.QueryStringConditionConfig{Values: []elbv2.QueryStringKeyValuePair{{Key: aws.String("v"), Value: aws.String("2")}}}},
				},
				Actions: []elbv2.Action{{
					Type:  elbv2.ActionTypeEnumAuthenticateOidc,
					Order: aws.Int32(1),
					AuthenticateOidcConfig: &elbv2.AuthenticateOidcActionConfig{
						Issuer: aws.String("https://idp.example.com"), AuthorizationEndpoint: aws.String("https://idp.example.com/auth"),
						TokenEndpoint: aws.String("https://idp.example.com/token"), UserInfoEndpoint: aws.String("https://idp.example.com/userinfo"),
						ClientId: aws.String("client"), SessionTimeout: aws.Int64(604800),
						AuthenticationRequestExtraParams: map[string]string{"prompt": "login", "display": "page"},
					},
				}, {
					Type:  elbv2.ActionTypeEnumForward,
					Order: aws.Int32(2),
					ForwardConfig: &elbv2.ForwardActionConfig{
						TargetGroups: []elbv2.TargetGroupTuple{
							{TargetGroupArn: aws.String(tgA), Weight: aws.Int32(90)},
							{TargetGroupArn: aws.String(tgB), Weight: aws.Int32(10)},
						},
						TargetGroupStickinessConfig: &elbv2.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(300)},
					},
				}},
			},
			out: &elbv2.CreateRuleOutput{Rules: []elbv2.Rule{{
				RuleArn:   aws.String(lsARN + "/rule/1"),
				Priority:  aws.String("10"),
				IsDefault: aws.Bool(false),
				Conditions: []elbv2.RuleCondition{
					{Field: aws.String("path-pattern"), Values: []string{"/api/*", "/v2/*"}, PathPatternConfig: &elbv2.PathPatternConditionConfig{Values: []string{"/api/*", "/v2/*"}}},
				},
				Actions: []elbv2.Action{
					{
						Type:           elbv2.ActionTypeEnumForward,
						Order:          aws.Int32(1),
						TargetGroupArn: aws.String(tgA),
						ForwardConfig: &elbv2.ForwardActionConfig{TargetGroups: []elbv2.TargetGroupTuple{
							{TargetGroupArn: aws.String(tgA), Weight: aws.Int32(90)},
							{TargetGroupArn: aws.String(tgB), Weight: aws.Int32(10)},
						}},
					},
					{
						Type:                   elbv2.ActionTypeEnumAuthenticateOidc,
						AuthenticateOidcConfig: &elbv2.AuthenticateOidcActionConfig{ClientId: aws.String("client"), AuthenticationRequestExtraParams: map[string]string{"b": "2", "a": "1"}, SessionTimeout: aws.Int64(1 << 40)},
					},
					{
						Type:                elbv2.ActionTypeEnumFixedResponse,
						Order:               aws.Int32(2),
						FixedResponseConfig: &elbv2.FixedResponseActionConfig{StatusCode: aws.String("503"), ContentType: aws.String("text/plain"), MessageBody: aws.String("down\r\nfor <maintenance> & more")},
					},
				},
			}}},
			wantOut: &sdk.CreateRuleOutput{Rules: []types.Rule{{
				RuleArn:   aws.String(lsARN + "/rule/1"),
				Priority:  aws.String("10"),
				IsDefault: aws.Bool(false),
				Conditions: []types.RuleCondition{
					{Field: aws.String("path-pattern"), Values: []string{"/api/*", "/v2/*"}, PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/api/*", "/v2/*"}}},
				},
				Actions: []types.Action{
					{
						Type:           types.ActionTypeEnumForward,
						Order:          aws.Int32(1),
						TargetGroupArn: aws.String(tgA),
						ForwardConfig: &types.ForwardActionConfig{TargetGroups: []types.TargetGroupTuple{
							{TargetGroupArn: aws.String(tgA), Weight: aws.Int32(90)},
							{TargetGroupArn: aws.String(tgB), Weight: aws.Int32(10)},
						}},
					},
					{
						Type:                   types.ActionTypeEnumAuthenticateOidc,
						AuthenticateOidcConfig: &types.AuthenticateOidcActionConfig{ClientId: aws.String("client"), AuthenticationRequestExtraParams: map[string]string{"b": "2", "a": "1"}, SessionTimeout: aws.Int64(1 << 40)},
					},
					{
						Type:                types.ActionTypeEnumFixedResponse,
						Order:               aws.Int32(2),
						FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("503"), ContentType: aws.String("text/plain"), MessageBody: aws.String("down\r\nfor <maintenance> & more")},
					},
				},
			}}},
		},
		{
			name: "DescribeTargetHealth",
			call: func(ctx context.Context, c *sdk.Client) (any, error) {
				return c.DescribeTargetHealth(ctx, &sdk.DescribeTargetHealthInput{
					TargetGroupArn: aws.String(tgA),
					Targets:        []types.TargetDescription{{Id: aws.String("10.0.1.7"), Port: aws.Int32(32768)}},
					Include:        []types.DescribeTargetHealthInputIncludeEnum{types.DescribeTargetHealthInputIncludeEnumAll},
				})
			},
			in: new(elbv2.DescribeTargetHealthInput),
			wantIn: &elbv2.DescribeTargetHealthInput{
				TargetGroupArn: aws.String(tgA),
				Targets:        []elbv2.TargetDescription{{Id: aws.String("10.0.1.7"), Port: aws.Int32(32768)}},
				Include:        []elbv2.DescribeTargetHealthInputIncludeEnum{elbv2.DescribeTargetHealthInputIncludeEnumAll},
			},
			out: &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: []elbv2.TargetHealthDescription{
				{
					Target:          &elbv2.TargetDescription{Id: aws.String("10.0.1.7"), Port: aws.Int32(32768), AvailabilityZone: aws.String("us-east-1a")},
					HealthCheckPort: aws.String("32768"),
					TargetHealth:    &elbv2.TargetHealth{State: elbv2.TargetHealthStateEnumHealthy},
				},
				{
					Target:          &elbv2.TargetDescription{Id: aws.String("10.0.1.8"), Port: aws.Int32(32769)},
					HealthCheckPort: aws.String("32769"),
					TargetHealth: &elbv2.TargetHealth{
						State:       elbv2.TargetHealthStateEnumUnhealthy,
						Reason:      elbv2.TargetHealthReasonEnumTargetResponseCodeMismatch,
						Description: aws.String("Health checks failed with these codes: [502]"),
					},
					AnomalyDetection: &elbv2.AnomalyDetection{Result: elbv2.AnomalyResultEnumNormal, MitigationInEffect: elbv2.MitigationInEffectEnumNo},
				},
			}},
			wantOut: &sdk.DescribeTargetHealthOutput{TargetHealthDescriptions: []types.TargetHealthDescription{
				{
					Target:          &types.TargetDescription{Id: aws.String("10.0.1.7"), Port: aws.Int32(32768), AvailabilityZone: aws.String("us-east-1a")},
					HealthCheckPort: aws.String("32768"),
					TargetHealth:    &types.TargetHealth{State: types.TargetHealthStateEnumHealthy},
				},
				{
					Target:          &types.TargetDescription{Id: aws.String("10.0.1.8"), Port: aws.Int32(32769)},
					HealthCheckPort: aws.String("32769"),
					TargetHealth: &types.TargetHealth{
						State:       types.TargetHealthStateEnumUnhealthy,
						Reason:      types.TargetHealthReasonEnumResponseCodeMismatch,
						Description: aws.String("Health checks failed with these codes: [502]"),
					},
					AnomalyDetection: &types.AnomalyDetection{Result: types.AnomalyResultEnumNormal, MitigationInEffect: types.MitigationInEffectEnumNo},
				},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeELB{t: t, in: tt.in, out: tt.out}
			got, err := tt.call(context.Background(), client(f))
			if err != nil {
				t.Fatalf("SDK call: %v", err)
			}
			if f.action != tt.name {
				t.Errorf("Action = %q", f.action)
			}
			if !reflect.DeepEqual(f.in, tt.wantIn) {
				t.Errorf("decoded input differs\n got: %s\nwant: %s\nform: %v", dump(f.in), dump(tt.wantIn), f.form)
			}
			if err := f.in.Validate(); err != nil {
				t.Errorf("decoded input does not validate: %v", err)
			}
			// The SDK's outputs carry their metadata in an unexported-typed
			// field; clear it before comparing.
			reflect.ValueOf(got).Elem().FieldByName("ResultMetadata").Set(reflect.ValueOf(middleware.Metadata{}))
			if !reflect.DeepEqual(got, tt.wantOut) {
				t.Errorf("SDK parsed the output differently\n got: %s\nwant: %s\n xml: %s", dump(got), dump(tt.wantOut), f.body)
			}
		})
	}
}

// dump renders a value for a failure message.
func dump(v any) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(v))
	return b.String()
}

func dumpValue(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		if t, ok := v.Interface().(*time.Time); ok {
			b.WriteString(t.Format(time.RFC3339Nano))
			return
		}
		b.WriteString("&")
		dumpValue(b, v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(model.Time); ok {
			b.WriteString(t.Format(time.RFC3339Nano))
			return
		}
		b.WriteString(v.Type().Name() + "{")
		for i := range v.NumField() {
			f := v.Field(i)
			if !v.Type().Field(i).IsExported() || f.IsZero() {
				continue
			}
			b.WriteString(v.Type().Field(i).Name + ":")
			dumpValue(b, f)
			b.WriteString(" ")
		}
		b.WriteString("}")
	case reflect.Slice:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("[")
		for i := range v.Len() {
			dumpValue(b, v.Index(i))
			b.WriteString(" ")
		}
		b.WriteString("]")
	case reflect.String:
		b.WriteString(`"` + v.String() + `"`)
	default:
		fmt.Fprint(b, v.Interface())
	}
}

// TestMarshalQueryResult pins the XML as AWS writes it: members as
// elements, lists as <member> elements, timestamps in ISO 8601 with
// milliseconds in UTC, text escaped, empty elements self-closed.
func TestMarshalQueryResult(t *testing.T) {
	tests := []struct {
		name string
		out  result
		want string
	}{
		{
			name: "nested lists and a timestamp",
			out: &elbv2.DescribeLoadBalancersOutput{
				NextMarker: aws.String("m&1"),
				LoadBalancers: []elbv2.LoadBalancer{{
					LoadBalancerName:  aws.String("web"),
					CreatedTime:       &model.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))},
					State:             &elbv2.LoadBalancerState{Code: elbv2.LoadBalancerStateEnumActive},
					AvailabilityZones: []elbv2.AvailabilityZone{{ZoneName: aws.String("us-east-1a")}, {ZoneName: aws.String("us-east-1b")}},
					SecurityGroups:    []string{},
				}},
			},
			want: `<DescribeLoadBalancersResult>` +
				`<LoadBalancers><member>` +
				`<AvailabilityZones><member><ZoneName>us-east-1a</ZoneName></member><member><ZoneName>us-east-1b</ZoneName></member></AvailabilityZones>` +
				`<CreatedTime>2026-01-02T02:04:05.000Z</CreatedTime>` +
				`<LoadBalancerName>web</LoadBalancerName>` +
				`<SecurityGroups/>` +
				`<State><Code>active</Code></State>` +
				`</member></LoadBalancers>` +
				`<NextMarker>m&amp;1</NextMarker>` +
				`</DescribeLoadBalancersResult>`,
		},
		{
			name: "empty output",
			out:  &elbv2.DeleteLoadBalancerOutput{},
			want: `<DeleteLoadBalancerResult/>`,
		},
		{
			name: "numbers and booleans",
			out: &elbv2.DescribeTargetGroupsOutput{TargetGroups: []elbv2.TargetGroup{{
				Port:                       aws.Int32(80),
				HealthCheckEnabled:         aws.Bool(true),
				HealthCheckIntervalSeconds: aws.Int32(0),
			}}},
			want: `<DescribeTargetGroupsResult><TargetGroups><member>` +
				`<HealthCheckEnabled>true</HealthCheckEnabled><HealthCheckIntervalSeconds>0</HealthCheckIntervalSeconds><LoadBalancerArns/><Port>80</Port>` +
				`</member></TargetGroups></DescribeTargetGroupsResult>`,
		},
		{
			// ELBv2 always sends the result's list, empty or not, and a
			// target group's LoadBalancerArns (internal/model/elbv2/always.json).
			name: "always-sent empty lists",
			out:  &elbv2.DescribeTargetGroupsOutput{},
			want: `<DescribeTargetGroupsResult><TargetGroups/></DescribeTargetGroupsResult>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w model.XMLWriter
			tt.out.MarshalQueryResult(&w)
			if got := string(w.Bytes()); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestUnmarshalQuery covers what the SDK never sends: parameters of the
// wrong type, unknown ones, indices out of order or with gaps.
func TestUnmarshalQuery(t *testing.T) {
	tests := []struct {
		name    string
		form    string
		want    *elbv2.CreateTargetGroupInput
		wantErr string
	}{
		{
			name: "unknown parameters ignored, indices sorted",
			form: "Name=tg&Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.10.Key=c&Tags.member.x.Key=ignored&Tags.member.0.Key=ignored&Nope=1&Port.extra=1",
			want: &elbv2.CreateTargetGroupInput{Name: aws.String("tg"), Tags: []elbv2.Tag{{Key: aws.String("a")}, {Key: aws.String("b")}, {Key: aws.String("c")}}},
		},
		{
			name: "empty string and empty list",
			form: "Name=&Tags=",
			want: &elbv2.CreateTargetGroupInput{Name: aws.String(""), Tags: []elbv2.Tag{}},
		},
		{
			name: "first of repeated parameters",
			form: "Name=a&Name=b",
			want: &elbv2.CreateTargetGroupInput{Name: aws.String("a")},
		},
		{
			name:    "wrong types",
			form:    "Name=tg&Port=eighty&HealthCheckEnabled=yes&HealthyThresholdCount=99999999999&Tags=t1",
			wantErr: "HealthCheckEnabled must be a boolean (true or false); HealthyThresholdCount must be an integer from -2147483648 to 2147483647; Port must be an integer from -2147483648 to 2147483647; Tags must be a list, sent as Tags.member.1, ...",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			var in elbv2.CreateTargetGroupInput
			err = in.UnmarshalQuery(model.ParseQuery(form))
			if tt.wantErr != "" {
				var ve *model.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("error %v is not a *model.ValidationError", err)
				}
				slices.SortFunc(ve.Params, func(a, b model.ParamError) int { return strings.Compare(a.Path, b.Path) })
				if got := ve.Error(); got != tt.wantErr {
					t.Errorf("error\n%s\nwant\n%s", got, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&in, tt.want) {
				t.Errorf("got %s\nwant %s", dump(&in), dump(tt.want))
			}
		})
	}
}

// TestErrorMethods checks what a server answers the model's errors with.
func TestErrorMethods(t *testing.T) {
	tests := []struct {
		err interface {
			ErrorCode() string
			ErrorMessage() string
			HTTPStatus() int
			Error() string
		}
		code    string
		message string
		status  int
	}{
		{&elbv2.LoadBalancerNotFoundException{Message: aws.String("One or more load balancers not found")}, "LoadBalancerNotFound", "One or more load balancers not found", 400},
		{&elbv2.PriorRequestNotCompleteException{}, "PriorRequestNotComplete", "", 429},
		{&elbv2.HealthUnavailableException{}, "HealthUnavailable", "", 500},
		{&elbv2.TrustStoreAssociationNotFoundException{}, "AssociationNotFound", "", 400},
	}
	for _, tt := range tests {
		if tt.err.ErrorCode() != tt.code || tt.err.ErrorMessage() != tt.message || tt.err.HTTPStatus() != tt.status {
			t.Errorf("%T: %s %q %d, want %s %q %d", tt.err, tt.err.ErrorCode(), tt.err.ErrorMessage(), tt.err.HTTPStatus(), tt.code, tt.message, tt.status)
		}
	}
}
