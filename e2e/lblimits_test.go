package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla/internal/testport"
)

// fixedListener makes a load balancer with an HTTP listener on port that
// answers every request with a fixed 200, and returns their ARNs.
func fixedListener(t *testing.T, e *elb.Client, name string, port int) (lbARN, listenerARN string, err error) {
	t.Helper()
	lbOut, err := e.CreateLoadBalancer(bg, &elb.CreateLoadBalancerInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	lbARN = aws.ToString(lbOut.LoadBalancers[0].LoadBalancerArn)
	ln, err := e.CreateListener(bg, &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(port)),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("200"), ContentType: aws.String("text/plain"), MessageBody: aws.String("ok")}}}})
	if err != nil {
		return lbARN, "", err
	}
	return lbARN, aws.ToString(ln.Listeners[0].ListenerArn), nil
}

// TestLoadBalancerClientsCannotStarveAPI runs the server with 1,024 file
// descriptors and holds 1,100 connections to a listener, each with an
// unfinished request head: the data plane stops accepting below the
// limit, so /healthz and an ECS call still answer.
func TestLoadBalancerClientsCannotStarveAPI(t *testing.T) {
	s := startWrapped(t, []string{"prlimit", "--nofile=1024:1024", "--"}, "server", t.TempDir())
	port := testport.Free(t)
	if _, _, err := fixedListener(t, s.ELB(), "front", port); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	eventually(t, 60*time.Second, func() bool { // the listener serving
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	for range 1100 {
		c, err := net.DialTimeout("tcp", addr, 30*time.Second)
		if err != nil {
			t.Fatalf("connect to the listener: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
			t.Fatal(err)
		}
	}

	// Bounds only keep a starved server from hanging the test.
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(s.Endpoint + "/healthz")
	if err != nil {
		t.Fatalf("/healthz with the listener's clients holding their connections: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	if _, err := s.ECS().ListClusters(ctx, &ecs.ListClustersInput{}); err != nil {
		t.Fatalf("ListClusters with the listener's clients holding their connections: %v", err)
	}
	if !strings.Contains(s.logs.String(), "client connections bounded") {
		t.Errorf("no bound on client connections logged")
	}
}

// TestListenerCannotListen refuses a listener on the API's own port, and
// reports one whose port another process holds as its load balancer's
// active_impaired state, with the reason.
func TestListenerCannotListen(t *testing.T) {
	s := startServer(t, t.TempDir())
	e := s.ELB()
	_, apiPort, _ := net.SplitHostPort(strings.TrimPrefix(s.Endpoint, "http://"))
	var p int
	fmt.Sscan(apiPort, &p)
	_, _, err := fixedListener(t, e, "api-port", p)
	var ae smithy.APIError
	if err == nil || !errors.As(err, &ae) || ae.ErrorCode() != "InvalidConfigurationRequest" {
		t.Fatalf("listener on the API's port %d: %v, want InvalidConfigurationRequest", p, err)
	}

	taken, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testport.Free(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	lbARN, _, err := fixedListener(t, e, "taken", takenPort)
	if err != nil {
		t.Fatal(err)
	}
	var state elbtypes.LoadBalancerState
	eventually(t, 60*time.Second, func() bool { // the node reported the listener
		out, err := e.DescribeLoadBalancers(bg, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbARN}})
		if err != nil {
			t.Fatal(err)
		}
		state = *out.LoadBalancers[0].State
		return state.Code == elbtypes.LoadBalancerStateEnumActiveImpaired
	})
	want := fmt.Sprintf("Listener on port %d cannot open", takenPort)
	if r := aws.ToString(state.Reason); !strings.Contains(r, want) || !strings.Contains(r, "address already in use") {
		t.Errorf("reason %q, want %q and the bind error", r, want)
	}

	// Freed, the port is taken by the listener at the next configuration.
	taken.Close()
	if _, err := e.ModifyLoadBalancerAttributes(bg, &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN),
		Attributes: []elbtypes.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("30")}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() bool { // the listener open
		out, err := e.DescribeLoadBalancers(bg, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbARN}})
		if err != nil {
			t.Fatal(err)
		}
		return out.LoadBalancers[0].State.Code == elbtypes.LoadBalancerStateEnumActive
	})
}

// TestKilledTargetFailsNoRequest kills (docker kill) one of two tasks
// behind a load balancer under load: the requests whose connection it
// refuses go to the other, and none fails, before and after its health
// checks find it gone.
func TestKilledTargetFailsNoRequest(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.ECS()
	cluster := newCluster(t, c)
	startAgent(t, s, cluster, t.TempDir())
	waitInstances(t, c, cluster, 1)
	td := webTD(t, c, "web", "hello")
	out, err := c.RunTask(bg, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td), Count: aws.Int32(2)})
	if err != nil || len(out.Tasks) != 2 {
		t.Fatalf("run tasks: %v %+v", err, out)
	}
	var targets []elbtypes.TargetDescription
	var victim string
	for _, task := range out.Tasks {
		running := waitTask(t, c, cluster, aws.ToString(task.TaskArn), "RUNNING")
		targets = append(targets, elbtypes.TargetDescription{Id: aws.String("127.0.0.1"), Port: running.Containers[0].NetworkBindings[0].HostPort})
		victim = aws.ToString(running.Containers[0].RuntimeId)
	}
	f := newFrontDoor(t, s.ELB(), "front")
	tg := f.targetGroup(t, "web", elbtypes.TargetTypeEnumIp, 10, "/*")
	if _, err := f.e.RegisterTargets(bg, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tg), Targets: targets}); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, f.e, aws.String(tg), 2)

	ctx, cancel := context.WithCancel(bg)
	type tally struct{ ok, failed int }
	results := make(chan tally)
	for range 4 {
		go func() {
			var n tally
			client := &http.Client{Timeout: 30 * time.Second}
			for ctx.Err() == nil {
				resp, err := client.Get(f.base + "/hello")
				if err != nil {
					n.failed++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					n.ok++
				} else {
					n.failed++
				}
			}
			results <- n
		}()
	}
	time.Sleep(time.Second) // load before the kill
	if b, err := exec.Command("docker", "kill", victim).CombinedOutput(); err != nil {
		cancel()
		t.Fatalf("docker kill: %v %s", err, b)
	}
	// Load until the load balancer's health checks have found it gone
	// (every 5 s, unhealthy after 2), and a while after.
	eventually(t, 60*time.Second, func() bool {
		h, err := f.e.DescribeTargetHealth(bg, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
		if err != nil {
			return false
		}
		for _, d := range h.TargetHealthDescriptions {
			if d.TargetHealth.State == elbtypes.TargetHealthStateEnumUnhealthy {
				return true
			}
		}
		return false
	})
	time.Sleep(time.Second)
	cancel()
	var total tally
	for range 4 {
		n := <-results
		total.ok += n.ok
		total.failed += n.failed
	}
	t.Logf("%d requests answered 200, %d failed", total.ok, total.failed)
	if total.failed != 0 || total.ok == 0 {
		t.Errorf("%d requests failed (%d answered) with a target killed", total.failed, total.ok)
	}
}
