package elbv2_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla/internal/sdktest"
)

// pages calls describe with each page size until NextMarker is nil, and
// returns the names of what it listed, by page.
func pages(t *testing.T, size int32, describe func(marker *string, size *int32) ([]string, *string, error)) [][]string {
	t.Helper()
	var out [][]string
	var marker *string
	for i := 0; ; i++ {
		if i > 20 {
			t.Fatal("more than 20 pages")
		}
		names, next, err := describe(marker, aws.Int32(size))
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		out = append(out, names)
		if next == nil {
			return out
		}
		marker = next
	}
}

func TestPaging(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var lbs []string
	for _, n := range []string{"lb-c", "lb-a", "lb-e", "lb-b", "lb-d"} {
		lbs = append(lbs, aws.ToString(e.createLB(t, n).LoadBalancerArn))
	}
	for _, n := range []string{"tg-c", "tg-a", "tg-e", "tg-b", "tg-d"} {
		e.createTG(t, n, "")
	}
	tgARN := func(name string) string {
		return aws.ToString(sdktest.Must(e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{name}})).TargetGroups[0].TargetGroupArn)
	}
	// lb-c forwards to tg-c by default and to tg-a, tg-d by rules;
	// lb-a to tg-e.
	var listeners []string
	for _, port := range []int32{8082, 80, 8081, 443, 8080} {
		listeners = append(listeners, aws.ToString(e.createListener(t, lbs[0], port, tgARN("tg-c")).ListenerArn))
	}
	e.createListener(t, lbs[1], 9090, tgARN("tg-e"))
	for _, p := range []int32{30, 10, 20} {
		tg := tgARN("tg-a")
		if p == 20 {
			tg = tgARN("tg-d")
		}
		sdktest.Must(e.client.CreateRule(ctx, pathRule(listeners[0], p, tg, fmt.Sprintf("/%d", p))))
	}

	lbNames := func(in elb.DescribeLoadBalancersInput) func(*string, *int32) ([]string, *string, error) {
		return func(marker *string, size *int32) ([]string, *string, error) {
			in.Marker, in.PageSize = marker, size
			out, err := e.client.DescribeLoadBalancers(ctx, &in)
			if err != nil {
				return nil, nil, err
			}
			var names []string
			for _, l := range out.LoadBalancers {
				names = append(names, aws.ToString(l.LoadBalancerName))
			}
			return names, out.NextMarker, nil
		}
	}
	tgNames := func(in elb.DescribeTargetGroupsInput) func(*string, *int32) ([]string, *string, error) {
		return func(marker *string, size *int32) ([]string, *string, error) {
			in.Marker, in.PageSize = marker, size
			out, err := e.client.DescribeTargetGroups(ctx, &in)
			if err != nil {
				return nil, nil, err
			}
			var names []string
			for _, g := range out.TargetGroups {
				names = append(names, aws.ToString(g.TargetGroupName))
			}
			return names, out.NextMarker, nil
		}
	}
	listenerPorts := func(in elb.DescribeListenersInput) func(*string, *int32) ([]string, *string, error) {
		return func(marker *string, size *int32) ([]string, *string, error) {
			in.Marker, in.PageSize = marker, size
			out, err := e.client.DescribeListeners(ctx, &in)
			if err != nil {
				return nil, nil, err
			}
			var ports []string
			for _, l := range out.Listeners {
				ports = append(ports, fmt.Sprint(aws.ToInt32(l.Port)))
			}
			return ports, out.NextMarker, nil
		}
	}
	rulePriorities := func(in elb.DescribeRulesInput) func(*string, *int32) ([]string, *string, error) {
		return func(marker *string, size *int32) ([]string, *string, error) {
			in.Marker, in.PageSize = marker, size
			out, err := e.client.DescribeRules(ctx, &in)
			if err != nil {
				return nil, nil, err
			}
			var prios []string
			for _, r := range out.Rules {
				prios = append(prios, aws.ToString(r.Priority))
			}
			return prios, out.NextMarker, nil
		}
	}
	allRules := sdktest.Must(e.client.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: aws.String(listeners[0])})).Rules

	for _, tc := range []struct {
		name     string
		size     int32
		describe func(*string, *int32) ([]string, *string, error)
		want     [][]string
	}{
		{"load balancers", 2, lbNames(elb.DescribeLoadBalancersInput{}), [][]string{{"lb-a", "lb-b"}, {"lb-c", "lb-d"}, {"lb-e"}}},
		{"load balancers, page of all", 5, lbNames(elb.DescribeLoadBalancersInput{}), [][]string{{"lb-a", "lb-b", "lb-c", "lb-d", "lb-e"}}},
		{"load balancers by name", 2, lbNames(elb.DescribeLoadBalancersInput{Names: []string{"lb-e", "lb-a", "lb-c"}}), [][]string{{"lb-e", "lb-a"}, {"lb-c"}}},
		{"load balancers by ARN", 1, lbNames(elb.DescribeLoadBalancersInput{LoadBalancerArns: lbs[3:]}), [][]string{{"lb-b"}, {"lb-d"}}},
		{"target groups", 3, tgNames(elb.DescribeTargetGroupsInput{}), [][]string{{"tg-a", "tg-b", "tg-c"}, {"tg-d", "tg-e"}}},
		{"target groups by name", 1, tgNames(elb.DescribeTargetGroupsInput{Names: []string{"tg-d", "tg-b"}}), [][]string{{"tg-d"}, {"tg-b"}}},
		{"target groups of a load balancer", 2, tgNames(elb.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lbs[0])}), [][]string{{"tg-a", "tg-c"}, {"tg-d"}}},
		{"target groups of another", 2, tgNames(elb.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lbs[1])}), [][]string{{"tg-e"}}},
		{"target groups of one with none", 2, tgNames(elb.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lbs[2])}), [][]string{nil}},
		{"listeners by port", 2, listenerPorts(elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbs[0])}), [][]string{{"80", "443"}, {"8080", "8081"}, {"8082"}}},
		{"listeners by ARN", 2, listenerPorts(elb.DescribeListenersInput{ListenerArns: []string{listeners[2], listeners[0], listeners[4]}}), [][]string{{"8081", "8082"}, {"8080"}}},
		{"rules by priority", 2, rulePriorities(elb.DescribeRulesInput{ListenerArn: aws.String(listeners[0])}), [][]string{{"10", "20"}, {"30", "default"}}},
		{"rules by priority, odd pages", 3, rulePriorities(elb.DescribeRulesInput{ListenerArn: aws.String(listeners[0])}), [][]string{{"10", "20", "30"}, {"default"}}},
		{"rules by ARN", 3, rulePriorities(elb.DescribeRulesInput{RuleArns: []string{aws.ToString(allRules[3].RuleArn), aws.ToString(allRules[1].RuleArn)}}), [][]string{{"default", "20"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pages(t, tc.size, tc.describe); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("pages %q, want %q", got, tc.want)
			}
		})
	}

	// The SDK's paginators follow NextMarker.
	var n int
	for p := elb.NewDescribeLoadBalancersPaginator(e.client, &elb.DescribeLoadBalancersInput{PageSize: aws.Int32(2)}); p.HasMorePages(); {
		n += len(sdktest.Must(p.NextPage(ctx)).LoadBalancers)
	}
	for p := elb.NewDescribeTargetGroupsPaginator(e.client, &elb.DescribeTargetGroupsInput{PageSize: aws.Int32(2)}); p.HasMorePages(); {
		n += len(sdktest.Must(p.NextPage(ctx)).TargetGroups)
	}
	for p := elb.NewDescribeListenersPaginator(e.client, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbs[0]), PageSize: aws.Int32(2)}); p.HasMorePages(); {
		n += len(sdktest.Must(p.NextPage(ctx)).Listeners)
	}
	if n != 15 {
		t.Errorf("the paginators listed %d items, want 15", n)
	}

	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"page size 0", func() error {
			_, err := e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{PageSize: aws.Int32(0)})
			return err
		}, "ValidationError"},
		{"page size 401", func() error {
			_, err := e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{PageSize: aws.Int32(401)})
			return err
		}, "ValidationError"},
		{"page size 401, listeners", func() error {
			_, err := e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbs[0]), PageSize: aws.Int32(401)})
			return err
		}, "ValidationError"},
		{"page size 0, rules", func() error {
			_, err := e.client.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: aws.String(listeners[0]), PageSize: aws.Int32(0)})
			return err
		}, "ValidationError"},
		{"marker not handed out", func() error {
			_, err := e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Marker: aws.String("lb-b")})
			return err
		}, "ValidationError"},
		{"target groups by name and load balancer", func() error {
			_, err := e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{"tg-a"}, LoadBalancerArn: aws.String(lbs[0])})
			return err
		}, "ValidationError"},
		{"listeners by ARN and load balancer", func() error {
			_, err := e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: listeners[:1], LoadBalancerArn: aws.String(lbs[0])})
			return err
		}, "ValidationError"},
		{"rules by ARN and listener", func() error {
			_, err := e.client.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{aws.ToString(allRules[0].RuleArn)}, ListenerArn: aws.String(listeners[0])})
			return err
		}, "ValidationError"},
		{"unknown load balancer name", func() error {
			_, err := e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"lb-a", "lb-z"}})
			return err
		}, "LoadBalancerNotFound"},
		{"target groups of an unknown load balancer", func() error {
			_, err := e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lbs[0] + "0")})
			return err
		}, "LoadBalancerNotFound"},
		{"unknown listener ARN", func() error {
			_, err := e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{listeners[0], listeners[0] + "0"}})
			return err
		}, "ListenerNotFound"},
		{"unknown rule ARN", func() error {
			_, err := e.client.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{aws.ToString(allRules[0].RuleArn) + "0"}})
			return err
		}, "RuleNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode[smithy.APIError](t, tc.call(), tc.code)
		})
	}
}
