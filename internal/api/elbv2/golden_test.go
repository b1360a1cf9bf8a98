package elbv2_test

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/flotilla/flotilla/internal/sdktest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// randomRE matches what differs from run to run: request IDs and the IDs
// in ARNs and DNS names.
var randomRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{16}\b|-[0-9]{9,10}\.`)

// TestGoldenResponses pins the whole XML document of every Describe
// response of ELBv2, on an empty account and on one with a load balancer,
// a listener with a rule and certificates, and a target group with a
// target: which elements are sent, empty lists included, as ELBv2 sends
// them (<LoadBalancers/> when there is none, a target group's
// <LoadBalancerArns/>, a default rule's <Conditions/>). Run with -update
// to rewrite testdata/golden after a reviewed change.
func TestGoldenResponses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rec := &sdktest.Recorder{}
	cfg := sdktest.Config(e.url, akid, secret)
	cfg.HTTPClient = &http.Client{Transport: rec}
	c := elb.NewFromConfig(cfg)
	golden := func(name string, call func() error) {
		t.Helper()
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkGolden(t, name, rec.Last())
	}
	all := func(prefix string) {
		golden(prefix+"DescribeLoadBalancers", func() error {
			_, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{})
			return err
		})
		golden(prefix+"DescribeTargetGroups", func() error {
			_, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{})
			return err
		})
		golden(prefix+"DescribeSSLPolicies", func() error {
			_, err := c.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{Names: []string{"ELBSecurityPolicy-TLS13-1-2-2021-06"}})
			return err
		})
	}
	all("empty/")

	lbARN := aws.ToString(e.createLB(t, "web").LoadBalancerArn)
	tg := e.createTG(t, "blue", types.TargetTypeEnumIp)
	tgARN := aws.ToString(tg.TargetGroupArn)
	lis := e.createListener(t, lbARN, 80, tgARN)
	lisARN := aws.ToString(lis.ListenerArn)
	sdktest.Must(c.CreateRule(ctx, pathRule(lisARN, 10, tgARN, "/api/*")))
	sdktest.Must(c.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN),
		Targets: []types.TargetDescription{{Id: aws.String("10.0.0.5"), Port: aws.Int32(8080)}}}))
	sdktest.Must(c.AddTags(ctx, &elb.AddTagsInput{ResourceArns: []string{lbARN}, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}))
	bare := aws.ToString(e.createTG(t, "green", types.TargetTypeEnumInstance).TargetGroupArn)

	all("full/")
	golden("full/DescribeLoadBalancerAttributes", func() error {
		_, err := c.DescribeLoadBalancerAttributes(ctx, &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN)})
		return err
	})
	golden("full/DescribeTargetGroupAttributes", func() error {
		_, err := c.DescribeTargetGroupAttributes(ctx, &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(tgARN)})
		return err
	})
	golden("full/DescribeTargetHealth", func() error {
		_, err := c.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
		return err
	})
	golden("full/DescribeTargetHealthEmpty", func() error {
		_, err := c.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(bare)})
		return err
	})
	golden("full/DescribeListeners", func() error {
		_, err := c.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
		return err
	})
	golden("full/DescribeListenerCertificates", func() error {
		_, err := c.DescribeListenerCertificates(ctx, &elb.DescribeListenerCertificatesInput{ListenerArn: aws.String(lisARN)})
		return err
	})
	golden("full/DescribeRules", func() error {
		_, err := c.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: aws.String(lisARN)})
		return err
	})
	golden("full/DescribeTags", func() error {
		_, err := c.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{lbARN, tgARN}})
		return err
	})
}

// checkGolden compares body, normalized, one element a line, with
// testdata/golden/name.xml, or writes it there with -update.
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	out := randomRE.ReplaceAllFunc(body, func(m []byte) []byte {
		if m[0] == '-' {
			return []byte("-ID.")
		}
		return []byte("ID")
	})
	out = append(bytes.ReplaceAll(out, []byte("><"), []byte(">\n<")), '\n')
	path := filepath.Join("testdata", "golden", name+".xml")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run with -update to create it)", name, err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("%s differs from %s:\n%s", name, path, out)
	}
}
