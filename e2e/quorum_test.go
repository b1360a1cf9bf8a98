package e2e

import (
	"context"
	"fmt"
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
	l := startLoad(f.base + "/")
	time.Sleep(30 * time.Second)
	l.stop(t, "while the other node reported every target unhealthy")

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

// load is keep-alive HTTP load from 8 clients.
type load struct {
	done     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	codes    map[int]int
	failures []string
}

// startLoad starts load on url until stop.
func startLoad(url string) *load {
	l := &load{done: make(chan struct{}), codes: map[int]int{}}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for range 8 {
		l.wg.Go(func() {
			for {
				select {
				case <-l.done:
					return
				default:
				}
				resp, err := client.Get(url)
				l.mu.Lock()
				if err != nil {
					l.failures = append(l.failures, err.Error())
				} else {
					l.codes[resp.StatusCode]++
				}
				l.mu.Unlock()
				if err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	return l
}

// stop ends the load and fails the test unless every answer was a 200.
func (l *load) stop(t testing.TB, during string) {
	t.Helper()
	close(l.done)
	l.wg.Wait()
	total := 0
	for _, n := range l.codes {
		total += n
	}
	t.Logf("%d requests %s: %v, %d errors", total+len(l.failures), during, l.codes, len(l.failures))
	if total < 100 {
		t.Fatalf("%d answers, want a constant load", total)
	}
	if ok := l.codes[http.StatusOK]; ok != total || len(l.failures) > 0 {
		t.Errorf("%d of %d answers were not 200 (%v), %d transport errors %q", total-ok, total, l.codes, len(l.failures), l.failures[:min(len(l.failures), 3)])
	}
}

// TestUnhealthyTasksReplacedWithinBounds makes every task of a service of
// three fail its load balancer health checks (testapp's POST /unhealthy)
// under load. The load balancer fails open, so the unhealthy tasks still
// serve; the controller starts their replacements first, within
// maximumPercent (never more than six tasks running or pending), and
// stops them only as the replacements become healthy: every request is
// answered 200 throughout.
func TestUnhealthyTasksReplacedWithinBounds(t *testing.T) {
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
	sick := map[string]bool{}
	for _, task := range serviceTasks(t, c, cluster, "web", types.DesiredStatusRunning) {
		sick[aws.ToString(task.TaskArn)] = true
		url := fmt.Sprintf("http://127.0.0.1:%d/unhealthy", aws.ToInt32(task.Containers[0].NetworkBindings[0].HostPort))
		resp, err := http.Post(url, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	l := startLoad(f.base + "/")
	most := 0
	eventually(t, 3*time.Minute, func() bool {
		tasks := serviceTaskARNs(t, c, cluster, "web", types.DesiredStatusRunning)
		most = max(most, len(tasks))
		for _, arn := range tasks {
			if sick[arn] {
				return false
			}
		}
		h, err := e.DescribeTargetHealth(bg, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
		if err != nil || len(tasks) != 3 || len(h.TargetHealthDescriptions) != 3 {
			return false
		}
		for _, d := range h.TargetHealthDescriptions {
			if d.TargetHealth.State != elbtypes.TargetHealthStateEnumHealthy {
				return false
			}
		}
		return true
	})
	l.stop(t, "while every task was replaced")
	if most > 6 {
		t.Errorf("%d tasks running or pending at once, above maximumPercent (6)", most)
	}
	failed := 0
	for _, task := range serviceTasks(t, c, cluster, "web", types.DesiredStatusStopped) {
		if sick[aws.ToString(task.TaskArn)] && strings.HasPrefix(aws.ToString(task.StoppedReason), "Task failed ELB health checks") {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("%d unhealthy tasks stopped for failing ELB health checks, want 3", failed)
	}
}
