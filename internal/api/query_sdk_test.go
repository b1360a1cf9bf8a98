package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/sdktest"
)

func newELBClient(url, key, secret string) *elb.Client {
	return elb.NewFromConfig(sdktest.Config(url, key, secret))
}

// TestAWSSDKForGoQuery drives the toy ELBv2 with the real aws-sdk-go-v2
// ELBv2 client: its requests must decode as sent (lists, nested structures,
// tags), its responses parse as written (timestamps, nested lists), and
// errors come back as the SDK's typed errors with their codes.
func TestAWSSDKForGoQuery(t *testing.T) {
	s := api.NewServer(api.Config{Credentials: credentials, Logger: slog.New(slog.DiscardHandler)})
	s.HandleJSON(toyECS()) // both protocols on one listener
	s.HandleQuery(toyELBService())
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	ctx := context.Background()
	client := newELBClient(hs.URL, akid, secret)

	created, err := client.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name:           aws.String("web"),
		Subnets:        []string{"subnet-a", "subnet-b"},
		SecurityGroups: []string{"sg-1"},
		Scheme:         types.LoadBalancerSchemeEnumInternal,
		Tags:           []types.Tag{{Key: aws.String("team"), Value: aws.String("edge")}, {Key: aws.String("env"), Value: aws.String("prod")}},
	})
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	if id, _ := awsmiddleware.GetRequestIDMetadata(created.ResultMetadata); !requestIDRE.MatchString(id) {
		t.Errorf("SDK request id %q", id)
	}
	arn := "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
	wantLB := types.LoadBalancer{
		LoadBalancerArn:  aws.String(arn),
		LoadBalancerName: aws.String("web"),
		DNSName:          aws.String("web-1234567890.us-east-1.elb.amazonaws.com"),
		CreatedTime:      aws.Time(toyCreated),
		Scheme:           types.LoadBalancerSchemeEnumInternal,
		Type:             types.LoadBalancerTypeEnumApplication,
		IpAddressType:    types.IpAddressTypeIpv4,
		VpcId:            aws.String("vpc-1"),
		State:            &types.LoadBalancerState{Code: types.LoadBalancerStateEnumProvisioning},
		SecurityGroups:   []string{"sg-1"},
		AvailabilityZones: []types.AvailabilityZone{
			{ZoneName: aws.String("us-east-1a"), SubnetId: aws.String("subnet-a"), LoadBalancerAddresses: []types.LoadBalancerAddress{{IpAddress: aws.String("10.0.0.10")}}},
			{ZoneName: aws.String("us-east-1b"), SubnetId: aws.String("subnet-b"), LoadBalancerAddresses: []types.LoadBalancerAddress{{IpAddress: aws.String("10.0.1.10")}}},
		},
	}
	if len(created.LoadBalancers) != 1 || !reflect.DeepEqual(created.LoadBalancers[0], wantLB) {
		t.Errorf("CreateLoadBalancer = %+v\nwant %+v", created.LoadBalancers, wantLB)
	}

	described, err := client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"web"}})
	if err != nil {
		t.Fatalf("DescribeLoadBalancers: %v", err)
	}
	if len(described.LoadBalancers) != 1 || !reflect.DeepEqual(described.LoadBalancers[0], wantLB) {
		t.Errorf("DescribeLoadBalancers = %+v", described.LoadBalancers)
	}

	// The SDK's paginator reads the same output.
	var names []string
	for p := elb.NewDescribeLoadBalancersPaginator(client, &elb.DescribeLoadBalancersInput{}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeLoadBalancers page: %v", err)
		}
		for _, lb := range page.LoadBalancers {
			names = append(names, *lb.LoadBalancerName)
		}
	}
	if !reflect.DeepEqual(names, []string{"taken", "web"}) {
		t.Errorf("paginated names = %q", names)
	}

	tags, err := client.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil {
		t.Fatalf("DescribeTags: %v", err)
	}
	wantTags := []types.TagDescription{{ResourceArn: aws.String(arn), Tags: []types.Tag{
		{Key: aws.String("team"), Value: aws.String("edge")}, {Key: aws.String("env"), Value: aws.String("prod")},
	}}}
	if !reflect.DeepEqual(tags.TagDescriptions, wantTags) {
		t.Errorf("DescribeTags = %+v", tags.TagDescriptions)
	}

	conditions := []types.RuleCondition{
		{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: []string{"api.example.com"}}},
		{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/v1/*", "/v2/*"}}},
		{Field: aws.String("http-request-method"), HttpRequestMethodConfig: &types.HttpRequestMethodConditionConfig{Values: []string{"GET", "HEAD"}}},
	}
	actions := []types.Action{{
		Type:  types.ActionTypeEnumForward,
		Order: aws.Int32(1),
		ForwardConfig: &types.ForwardActionConfig{
			TargetGroups: []types.TargetGroupTuple{
				{TargetGroupArn: aws.String("arn:tg/blue"), Weight: aws.Int32(80)},
				{TargetGroupArn: aws.String("arn:tg/green"), Weight: aws.Int32(20)},
			},
			TargetGroupStickinessConfig: &types.TargetGroupStickinessConfig{Enabled: aws.Bool(false)},
		},
	}}
	rule, err := client.CreateRule(ctx, &elb.CreateRuleInput{
		ListenerArn: aws.String("arn:listener/1"),
		Priority:    aws.Int32(7),
		Conditions:  conditions,
		Actions:     actions,
	})
	if err != nil {
		t.Fatalf("CreateRule: %v", err)
	}
	wantRule := types.Rule{
		RuleArn:    aws.String("arn:listener/1/rule/1"),
		Priority:   aws.String("7"),
		IsDefault:  aws.Bool(false),
		Conditions: conditions,
		Actions:    actions,
	}
	if len(rule.Rules) != 1 || !reflect.DeepEqual(rule.Rules[0], wantRule) {
		t.Errorf("CreateRule = %+v\nwant %+v", rule.Rules, wantRule)
	}

	tests := []struct {
		name    string
		client  *elb.Client
		call    func(*elb.Client) error
		code    string
		message string
		typed   func(error) bool
	}{
		{
			name: "modeled error", call: func(c *elb.Client) error {
				_, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"nope"}})
				return err
			},
			code: "LoadBalancerNotFound", message: "One or more load balancers not found",
			typed: func(err error) bool { var e *types.LoadBalancerNotFoundException; return errors.As(err, &e) },
		},
		{
			name: "mapped error", call: func(c *elb.Client) error {
				_, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web")})
				return err
			},
			code: "DuplicateLoadBalancerName", message: "A load balancer with the same name exists.",
			typed: func(err error) bool { var e *types.DuplicateLoadBalancerNameException; return errors.As(err, &e) },
		},
		{
			name: "validation", call: func(c *elb.Client) error {
				_, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("tg"), Port: aws.Int32(70000)})
				return err
			},
			code: "ValidationError", message: "1 validation error detected: Port must be at most 65535",
		},
		{
			name: "internal failure", call: func(c *elb.Client) error {
				_, err := c.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: aws.String("x")})
				return err
			},
			code: "InternalFailure",
		},
		{
			name: "unsupported operation", call: func(c *elb.Client) error {
				_, err := c.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{})
				return err
			},
			code: "InvalidAction", message: "Could not find operation DescribeSSLPolicies for version 2015-12-01.",
		},
		{
			name: "wrong secret", client: newELBClient(hs.URL, akid, "wrong"), call: func(c *elb.Client) error {
				_, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
				return err
			},
			code: "SignatureDoesNotMatch",
		},
		{
			name: "unknown key", client: newELBClient(hs.URL, "AKIDNOBODY", secret), call: func(c *elb.Client) error {
				_, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
				return err
			},
			code: "InvalidClientTokenId", message: "The security token included in the request is invalid.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client
			if tt.client != nil {
				c = tt.client
			}
			err := tt.call(c)
			var ae smithy.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an API error", err)
			}
			if ae.ErrorCode() != tt.code {
				t.Errorf("code = %s, want %s", ae.ErrorCode(), tt.code)
			}
			if tt.message != "" && ae.ErrorMessage() != tt.message {
				t.Errorf("message = %q, want %q", ae.ErrorMessage(), tt.message)
			}
			if tt.typed != nil && !tt.typed(err) {
				t.Errorf("error %T is not the modeled type", err)
			}
			var re interface{ ServiceRequestID() string }
			if !errors.As(err, &re) || !requestIDRE.MatchString(re.ServiceRequestID()) {
				t.Errorf("error carries no request id: %v", err)
			}
		})
	}

	// The JSON service on the same listener still answers.
	if _, err := newECSClient(hs.URL, akid, secret).ListClusters(ctx, nil); err != nil {
		t.Errorf("ECS ListClusters next to a query service: %v", err)
	}
}
