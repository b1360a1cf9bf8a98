package elbv2_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/flotilla/flotilla/internal/sdktest"
)

// TestForeignARNsNameNothing: every ELBv2 input that takes an ARN finds the
// resource by its own ARN, and nothing by the same ARN in another region,
// account or partition (issue 26.3).
func TestForeignARNsNameNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lbARN := aws.ToString(e.createLB(t, "web").LoadBalancerArn)
	tgARN := aws.ToString(e.createTG(t, "blue", types.TargetTypeEnumIp).TargetGroupArn)
	lis := e.createListener(t, lbARN, 80, tgARN)
	lisARN := aws.ToString(lis.ListenerArn)
	rule := sdktest.Must(e.client.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: aws.String(lisARN), Priority: aws.Int32(1),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/a"}}},
		Actions:    []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}}))
	ruleARN := aws.ToString(rule.Rules[0].RuleArn)
	certARN, _ := e.importCertificate(t, "site.example")

	checks := []struct {
		name, arn, code string
		call            func(arn string) error
	}{
		{"DescribeLoadBalancers", lbARN, "LoadBalancerNotFound", func(arn string) error {
			_, err := e.client.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{arn}})
			return err
		}},
		{"DescribeTargetGroups", tgARN, "TargetGroupNotFound", func(arn string) error {
			_, err := e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{arn}})
			return err
		}},
		{"DescribeTargetGroups LoadBalancerArn", lbARN, "LoadBalancerNotFound", func(arn string) error {
			_, err := e.client.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(arn)})
			return err
		}},
		{"RegisterTargets", tgARN, "TargetGroupNotFound", func(arn string) error {
			_, err := e.client.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(arn), Targets: []types.TargetDescription{{Id: aws.String("10.0.0.1"), Port: aws.Int32(80)}}})
			return err
		}},
		{"DescribeTargetHealth", tgARN, "TargetGroupNotFound", func(arn string) error {
			_, err := e.client.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
			return err
		}},
		{"DescribeListeners", lisARN, "ListenerNotFound", func(arn string) error {
			_, err := e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{arn}})
			return err
		}},
		{"DescribeListeners LoadBalancerArn", lbARN, "LoadBalancerNotFound", func(arn string) error {
			_, err := e.client.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(arn)})
			return err
		}},
		{"CreateListener LoadBalancerArn", lbARN, "LoadBalancerNotFound", func(arn string) error {
			_, err := e.client.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: aws.String(arn), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(81),
				DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}})
			return err
		}},
		{"ModifyListener TargetGroupArn", tgARN, "TargetGroupNotFound", func(arn string) error {
			_, err := e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: aws.String(lisARN),
				DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(arn)}}})
			return err
		}},
		{"ModifyListener CertificateArn", certARN, "CertificateNotFound", func(arn string) error {
			_, err := e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: aws.String(lisARN), Protocol: types.ProtocolEnumHttps, Port: aws.Int32(443),
				Certificates: []types.Certificate{{CertificateArn: aws.String(arn)}}})
			return err
		}},
		{"DescribeRules", ruleARN, "RuleNotFound", func(arn string) error {
			_, err := e.client.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{arn}})
			return err
		}},
		{"DescribeTags", lbARN, "LoadBalancerNotFound", func(arn string) error {
			_, err := e.client.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{arn}})
			return err
		}},
		{"AddTags", tgARN, "TargetGroupNotFound", func(arn string) error {
			_, err := e.client.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{arn}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range []string{
				strings.Replace(c.arn, ":"+region+":", ":eu-west-9:", 1),
				strings.Replace(c.arn, ":"+account+":", ":999999999999:", 1),
				strings.Replace(c.arn, "arn:aws:", "arn:aws-cn:", 1),
			} {
				wantCode[error](t, c.call(f), c.code)
			}
			if err := c.call(c.arn); err != nil {
				t.Fatalf("by its own ARN %s: %v", c.arn, err)
			}
		})
	}
}
