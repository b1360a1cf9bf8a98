package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla/internal/testport"
)

// waitHealthy waits until a target group has n targets, all healthy.
func waitHealthy(t testing.TB, e *elb.Client, tgARN *string, n int) {
	t.Helper()
	eventually(t, 90*time.Second, func() bool {
		h, err := e.DescribeTargetHealth(bg, &elb.DescribeTargetHealthInput{TargetGroupArn: tgARN})
		if err != nil || len(h.TargetHealthDescriptions) != n {
			return false
		}
		for _, d := range h.TargetHealthDescriptions {
			if d.TargetHealth.State != elbtypes.TargetHealthStateEnumHealthy {
				return false
			}
		}
		return true
	})
}

// frontDoor is a load balancer with one HTTP listener whose default action
// is a fixed 404.
type frontDoor struct {
	e           *elb.Client
	lbARN       *string
	listenerARN *string
	base        string // http://127.0.0.1:port
}

func newFrontDoor(t testing.TB, e *elb.Client, name string) *frontDoor {
	t.Helper()
	out, err := e.CreateLoadBalancer(bg, &elb.CreateLoadBalancerInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	port := testport.Free(t)
	ln, err := e.CreateListener(bg, &elb.CreateListenerInput{LoadBalancerArn: out.LoadBalancers[0].LoadBalancerArn,
		Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(port)),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain"), MessageBody: aws.String("no route")}}}})
	if err != nil {
		t.Fatal(err)
	}
	return &frontDoor{e: e, lbARN: out.LoadBalancers[0].LoadBalancerArn, listenerARN: ln.Listeners[0].ListenerArn,
		base: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

// targetGroup makes a target group with quick health checks (every 5 s,
// healthy after 2) and a 5 s deregistration delay, and a rule forwarding
// the path pattern to it.
func (f *frontDoor) targetGroup(t testing.TB, name string, targetType elbtypes.TargetTypeEnum, priority int32, path string) string {
	t.Helper()
	tg, err := f.e.CreateTargetGroup(bg, &elb.CreateTargetGroupInput{Name: aws.String(name), Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(8080), TargetType: targetType, HealthCheckPath: aws.String("/healthz"),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	arn := tg.TargetGroups[0].TargetGroupArn
	if _, err := f.e.ModifyTargetGroupAttributes(bg, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: arn,
		Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.CreateRule(bg, &elb.CreateRuleInput{ListenerArn: f.listenerARN, Priority: aws.Int32(priority),
		Conditions: []elbtypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{path}}},
		Actions:    []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: arn}}}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(arn)
}

// get fetches a path through the load balancer.
func (f *frontDoor) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(f.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// twoInstances starts a server and a cluster of two agents.
func twoInstances(t testing.TB) (*server, *ecs.Client, string) {
	s := startServer(t, t.TempDir())
	c := s.ECS()
	cluster := newCluster(t, c)
	startAgent(t, s, cluster, t.TempDir())
	startAgent(t, s, cluster, t.TempDir())
	waitInstances(t, c, cluster, 2)
	return s, c, cluster
}

// webTD registers a task definition serving HTTP on container port 8080,
// published on a dynamic host port, greeting with the given word.
func webTD(t testing.TB, c *ecs.Client, family, greeting string) string {
	return registerTD(t, c, family, types.ContainerDefinition{Name: aws.String("web"), Command: []string{"serve", "-addr", ":8080"},
		PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}, Memory: aws.Int32(32),
		Environment: []types.KeyValuePair{{Name: aws.String("GREETING"), Value: aws.String(greeting)}}})
}

// TestServicesBehindLoadBalancer runs two services behind one load
// balancer, routed by path: /books* to one (an instance target group), and
// /movies* to the other (an ip target group). The service controller
// registers each task's host port, the deployments complete only once the
// targets are healthy, and scaling in deregisters the target before the
// task stops.
func TestServicesBehindLoadBalancer(t *testing.T) {
	s, c, cluster := twoInstances(t)

	f := newFrontDoor(t, s.ELB(), "front")
	booksTG := f.targetGroup(t, "books", elbtypes.TargetTypeEnumInstance, 10, "/books*")
	moviesTG := f.targetGroup(t, "movies", elbtypes.TargetTypeEnumIp, 20, "/movies*")
	books, movies := webTD(t, c, "books", "books"), webTD(t, c, "movies", "movies")

	// ECS's checks of loadBalancers.
	for _, bad := range []types.LoadBalancer{
		{TargetGroupArn: aws.String(booksTG), ContainerName: aws.String("web"), ContainerPort: aws.Int32(9999)},
		{TargetGroupArn: aws.String(booksTG), ContainerName: aws.String("nope"), ContainerPort: aws.Int32(8080)},
		{TargetGroupArn: aws.String(booksTG + "0"), ContainerName: aws.String("web"), ContainerPort: aws.Int32(8080)},
	} {
		_, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String("bad"),
			TaskDefinition: aws.String(books), DesiredCount: aws.Int32(1), LoadBalancers: []types.LoadBalancer{bad}})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" {
			t.Errorf("CreateService with load balancer %s:%d on %s: %v, want InvalidParameterException",
				aws.ToString(bad.ContainerName), aws.ToInt32(bad.ContainerPort), aws.ToString(bad.TargetGroupArn), err)
		}
	}

	for _, svc := range []struct{ name, td, tg string }{{"books", books, booksTG}, {"movies", movies, moviesTG}} {
		if _, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String(svc.name),
			TaskDefinition: aws.String(svc.td), DesiredCount: aws.Int32(2), HealthCheckGracePeriodSeconds: aws.Int32(30),
			LoadBalancers: []types.LoadBalancer{{TargetGroupArn: aws.String(svc.tg), ContainerName: aws.String("web"), ContainerPort: aws.Int32(8080)}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitSteady(t, c, cluster, "books", 2*time.Minute)
	waitSteady(t, c, cluster, "movies", 2*time.Minute)

	// The targets are the tasks: instance IDs (books) or addresses (movies)
	// with the tasks' host ports, all healthy.
	instances, err := c.DescribeContainerInstances(bg, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(cluster),
		ContainerInstances: waitInstances(t, c, cluster, 2)})
	if err != nil {
		t.Fatal(err)
	}
	ec2IDs := map[string]string{}
	for _, ci := range instances.ContainerInstances {
		ec2IDs[aws.ToString(ci.ContainerInstanceArn)] = aws.ToString(ci.Ec2InstanceId)
	}
	for _, svc := range []struct{ name, tg string }{{"books", booksTG}, {"movies", moviesTG}} {
		var want []string
		for _, task := range serviceTasks(t, c, cluster, svc.name, types.DesiredStatusRunning) {
			id := "127.0.0.1"
			if svc.name == "books" {
				id = ec2IDs[aws.ToString(task.ContainerInstanceArn)]
			}
			want = append(want, fmt.Sprintf("%s:%d healthy", id, aws.ToInt32(task.Containers[0].NetworkBindings[0].HostPort)))
		}
		h, err := f.e.DescribeTargetHealth(bg, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(svc.tg)})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range h.TargetHealthDescriptions {
			got = append(got, fmt.Sprintf("%s:%d %s", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port), d.TargetHealth.State))
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s targets %v, want the tasks %v", svc.name, got, want)
		}
	}

	// Routing by path reaches each service's tasks, both of them.
	for _, svc := range []string{"books", "movies"} {
		hosts := map[string]bool{}
		for i := range 20 {
			code, body := f.get(t, fmt.Sprintf("/%s/%d", svc, i))
			if code != 200 || !strings.Contains(body, "greeting="+svc+"\n") {
				t.Fatalf("GET /%s/%d: %d %q, want the %s service", svc, i, code, body, svc)
			}
			hosts[strings.SplitN(body, "\n", 2)[0]] = true
		}
		if len(hosts) != 2 {
			t.Errorf("/%s reached %d tasks, want both: %v", svc, len(hosts), hosts)
		}
	}
	if code, body := f.get(t, "/music"); code != 404 || body != "no route" {
		t.Errorf("GET /music: %d %q, want the listener's fixed response", code, body)
	}

	// Scaling in deregisters first: the task stops only once its target
	// drained, and the group keeps only the remaining task.
	if _, err := c.UpdateService(bg, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("books"), DesiredCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	sawDeactivating := false
	eventually(t, time.Minute, func() bool {
		for _, task := range serviceTasks(t, c, cluster, "books", types.DesiredStatusStopped) {
			if aws.ToString(task.LastStatus) == "DEACTIVATING" {
				sawDeactivating = true
			}
		}
		h, err := f.e.DescribeTargetHealth(bg, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(booksTG)})
		return err == nil && len(h.TargetHealthDescriptions) == 1 && len(serviceTasks(t, c, cluster, "books", types.DesiredStatusRunning)) == 1
	})
	if !sawDeactivating {
		t.Log("the stopped task was not seen DEACTIVATING (it drained between two looks)")
	}
	for i := range 10 {
		if code, body := f.get(t, fmt.Sprintf("/books/%d", i)); code != 200 || !strings.Contains(body, "greeting=books\n") {
			t.Fatalf("after scaling in, GET /books/%d: %d %q", i, code, body)
		}
	}
}

// TestZeroDowntimeDeployment is the promise of the load balancer: a
// rolling deployment of a service behind it, under constant keep-alive load
// from wrk, completes with no response other than 2xx and no connection
// error.
func TestZeroDowntimeDeployment(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed; `make deps` installs it")
	}
	s, c, cluster := twoInstances(t)
	f := newFrontDoor(t, s.ELB(), "front")
	tg := f.targetGroup(t, "web", elbtypes.TargetTypeEnumInstance, 10, "/*")
	v1 := webTD(t, c, "web", "v1")
	createWebBehind(t, c, cluster, v1, tg)
	waitSteady(t, c, cluster, "web", 2*time.Minute)
	if code, body := f.get(t, "/"); code != 200 || !strings.Contains(body, "greeting=v1\n") {
		t.Fatalf("GET / before the deployment: %d %q", code, body)
	}

	// Constant keep-alive load for 60 s; the deployment starts 5 s in.
	// wrk's --timeout (2 s by default) counts a slow answer as an error;
	// on a loaded machine one can be slow, and only dropped requests are
	// what the test is about.
	ctx, cancel := context.WithTimeout(bg, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk, "-t2", "-c16", "-d60s", "--timeout", "10s", "--latency", f.base+"/")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	v2 := webTD(t, c, "web", "v2")
	if _, err := c.UpdateService(bg, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("web"), TaskDefinition: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	eventually(t, 3*time.Minute, func() bool {
		svc := describeService(t, c, cluster, "web")
		return len(svc.Deployments) == 1 && svc.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted &&
			aws.ToString(svc.Deployments[0].TaskDefinition) == v2 && len(serviceTasks(t, c, cluster, "web", types.DesiredStatusRunning)) == 2
	})
	t.Logf("deployment completed in %v under load", time.Since(started).Round(100*time.Millisecond))
	wrkClean(t, cmd, &out, "during the deployment")
	for range 10 {
		if code, body := f.get(t, "/"); code != 200 || !strings.Contains(body, "greeting=v2\n") {
			t.Fatalf("GET / after the deployment: %d %q, want v2", code, body)
		}
	}
	h, err := f.e.DescribeTargetHealth(bg, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
	if err != nil || len(h.TargetHealthDescriptions) != 2 {
		t.Fatalf("targets after the deployment: %v %+v, want the two new tasks", err, h)
	}
}

// wrkCount returns the number the pattern captures in wrk's report, 0 when
// it does not occur (wrk prints error lines only when there are errors).
// createWebBehind creates the service "web" of two tasks of td behind
// target group tg, deploying without going under its two tasks.
func createWebBehind(t *testing.T, c *ecs.Client, cluster, td, tg string) {
	t.Helper()
	if _, err := c.CreateService(bg, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(2),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200)},
		LoadBalancers:           []types.LoadBalancer{{TargetGroupArn: aws.String(tg), ContainerName: aws.String("web"), ContainerPort: aws.Int32(8080)}},
	}); err != nil {
		t.Fatal(err)
	}
}

// wrkClean waits for wrk's cmd, writing to out, and fails the test unless
// it made a constant load with no response but 2xx and no socket error
// (when: "during the deployment", ...).
func wrkClean(t *testing.T, cmd *exec.Cmd, out *strings.Builder, when string) {
	t.Helper()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wrk: %v\n%s", err, out.String())
	}
	report := out.String()
	t.Logf("wrk:\n%s", report)
	requests := wrkCount(t, report, `(\d+) requests in`)
	if requests < 1000 {
		t.Fatalf("wrk made %d requests, want a constant load", requests)
	}
	if n := wrkCount(t, report, `Non-2xx or 3xx responses: (\d+)`); n != 0 {
		t.Errorf("%d of %d responses were not 2xx %s", n, requests, when)
	}
	if m := regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`).FindStringSubmatch(report); m != nil {
		t.Errorf("connection errors %s: %s", when, m[0])
	}
}

func wrkCount(t testing.TB, report, pattern string) int {
	m := regexp.MustCompile(pattern).FindStringSubmatch(report)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatalf("wrk report %q: %v", m[0], err)
	}
	return n
}
