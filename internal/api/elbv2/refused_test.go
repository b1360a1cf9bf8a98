package elbv2_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
)

// TestRefusedParameters checks that parameters Flotilla does not honour
// are refused with ValidationError naming them, and that the values it
// does honour still pass.
func TestRefusedParameters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tg := func(mod func(*elb.CreateTargetGroupInput)) func() error {
		return func() error {
			in := &elb.CreateTargetGroupInput{Name: aws.String("blue"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080)}
			mod(in)
			_, err := e.client.CreateTargetGroup(ctx, in)
			return err
		}
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"grpc_matcher", tg(func(in *elb.CreateTargetGroupInput) { in.Matcher = &types.Matcher{GrpcCode: aws.String("12")} }),
			"Matcher.GrpcCode is not supported by Flotilla yet"},
		{"protocol_version", tg(func(in *elb.CreateTargetGroupInput) { in.ProtocolVersion = aws.String("GRPC") }),
			"ProtocolVersion 'GRPC' is not supported"},
		{"ipv6", tg(func(in *elb.CreateTargetGroupInput) { in.IpAddressType = types.TargetGroupIpAddressTypeEnumIpv6 }),
			"IpAddressType 'ipv6' is not supported"},
		{"vpc", tg(func(in *elb.CreateTargetGroupInput) { in.VpcId = aws.String("vpc-0123") }),
			"VPC 'vpc-0123' does not exist"},
		{"subnet_mapping_address", func() error {
			_, err := e.client.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web"),
				SubnetMappings: []types.SubnetMapping{{SubnetId: aws.String("subnet-a"), PrivateIPv4Address: aws.String("10.0.0.5")}}})
			return err
		}, "SubnetMappings[0].PrivateIPv4Address is not supported by Flotilla yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" || !strings.Contains(ae.ErrorMessage(), tt.want) {
				t.Fatalf("got %v, want ValidationError with %q", err, tt.want)
			}
		})
	}
	out, err := e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
	if err != nil || len(out.TargetGroups) != 0 {
		t.Fatalf("target groups after refusals: %v, %v", out, err)
	}
	if err := tg(func(in *elb.CreateTargetGroupInput) {
		in.ProtocolVersion, in.IpAddressType, in.VpcId = aws.String("HTTP1"), types.TargetGroupIpAddressTypeEnumIpv4, aws.String("vpc-flotilla")
	})(); err != nil {
		t.Fatalf("the values Flotilla honours: %v", err)
	}
}
