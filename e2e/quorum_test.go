package e2e

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/lbnode"
)

// TestOneNodeReportsEverythingUnhealthy runs a service of three tasks
// behind the server's load balancer node while a second node, signed with
// the account's keys, keeps reporting every target unhealthy (what a
// forged report, or a node that cannot reach the targets, says). Target
// health is a quorum of the nodes that see the target, and that node is
// suspect: DescribeTargetHealth keeps the targets healthy, the service
// keeps its tasks, and load through the healthy node gets only 2xx.
func TestOneNodeReportsEverythingUnhealthy(t *testing.T) {
	s, c, cluster := twoInstances(t)
	e := s.ELB()
	f := newFrontDoor(t, e, "front")
	tg := f.targetGroup(t, "web", elbtypes.TargetTypeEnumInstance, 10, "/*")
	if _, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(webTD(t, c, "web", "v1")), DesiredCount: aws.Int32(3),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200)},
		LoadBalancers:           []types.LoadBalancer{{TargetGroupArn: aws.String(tg), ContainerName: aws.String("web"), ContainerPort: aws.Int32(8080)}},
	}); err != nil {
		t.Fatal(err)
	}
	waitSteady(t, c, cluster, "web", 2*time.Minute)
	waitHealthy(t, e, aws.String(tg), 3)
	before := serviceTaskARNs(t, c, cluster, "web", types.DesiredStatusRunning)

	// The other node: every target unhealthy, reported every 2 s (a report
	// counts for 30 s).
	h, err := e.DescribeTargetHealth(bg, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
	if err != nil {
		t.Fatal(err)
	}
	report := lbnode.Report{Node: "lb-blind", AppliedRevision: math.MaxInt64, Groups: map[string][]lb.TargetHealth{}}
	for _, d := range h.TargetHealthDescriptions {
		report.Groups[tg] = append(report.Groups[tg], lb.TargetHealth{
			Target: lb.Target{ID: aws.ToString(d.Target.Id), Port: int(aws.ToInt32(d.Target.Port))},
			State:  lb.StateUnhealthy, Reason: lb.ReasonTimeout, Description: "Request timed out"})
	}
	src := lbnode.NewHTTPSource(s.Endpoint, s.Env["AWS_REGION"], s.Env["AWS_ACCESS_KEY_ID"], s.Env["AWS_SECRET_ACCESS_KEY"], nil)
	if err := src.Report(bg, report); err != nil {
		t.Fatalf("report of the blind node: %v", err)
	}
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			if err := src.Report(ctx, report); err != nil && ctx.Err() == nil {
				t.Errorf("report of the blind node: %v", err)
			}
		}
	})

	// 30 s of keep-alive load through the healthy node: long enough for
	// the controller to act on the report (it reconciles every 5 s).
	var mu sync.Mutex
	codes := map[int]int{}
	var failures []string
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	end := time.Now().Add(30 * time.Second)
	var load sync.WaitGroup
	for range 8 {
		load.Go(func() {
			for time.Now().Before(end) {
				resp, err := client.Get(f.base + "/")
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					codes[resp.StatusCode]++
				}
				mu.Unlock()
				if err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	load.Wait()
	total, ok := 0, codes[http.StatusOK]
	for _, n := range codes {
		total += n
	}
	t.Logf("%d requests through the healthy node while the other reported every target unhealthy: %v, %d errors", total+len(failures), codes, len(failures))
	if total < 100 {
		t.Fatalf("%d answers, want a constant load", total)
	}
	if ok != total || len(failures) > 0 {
		t.Errorf("%d of %d answers were not 200 (%v), %d transport errors %q", total-ok, total, codes, len(failures), failures[:min(len(failures), 3)])
	}

	// The report is live, yet the targets are healthy and the tasks the same.
	h, err = e.DescribeTargetHealth(bg, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range h.TargetHealthDescriptions {
		if d.TargetHealth.State != elbtypes.TargetHealthStateEnumHealthy {
			t.Errorf("target %s:%d %s (%s), want healthy", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port), d.TargetHealth.State,
				aws.ToString(d.TargetHealth.Description))
		}
	}
	after := serviceTaskARNs(t, c, cluster, "web", types.DesiredStatusRunning)
	slices.Sort(before)
	slices.Sort(after)
	if !slices.Equal(before, after) {
		t.Errorf("running tasks %v, want the same as before %v", after, before)
	}
	for _, ev := range describeService(t, c, cluster, "web").Events {
		if strings.Contains(aws.ToString(ev.Message), "health checks") {
			t.Errorf("service event %q", aws.ToString(ev.Message))
		}
	}
}
