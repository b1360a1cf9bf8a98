package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/flotilla/flotilla/internal/testport"
)

// TestLoadBalancerRoutesToTasks puts two real tasks behind a load balancer
// made with the ELBv2 API: a path rule forwards /env* to them once they are
// healthy, and everything else gets the listener's fixed response.
func TestLoadBalancerRoutesToTasks(t *testing.T) {
	s := startServer(t, t.TempDir())
	c := s.ECS()
	cluster := newCluster(t, c)
	startAgent(t, s, cluster, t.TempDir())
	waitInstances(t, c, cluster, 1)
	td := registerTD(t, c, "api", types.ContainerDefinition{Name: aws.String("web"), Command: []string{"serve", "-addr", ":8080"},
		PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}, Memory: aws.Int32(32)})
	out, err := c.RunTask(bg, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td), Count: aws.Int32(2)})
	if err != nil || len(out.Tasks) != 2 {
		t.Fatalf("run tasks: %v %+v", err, out)
	}
	var ports []int32
	for _, task := range out.Tasks {
		running := waitTask(t, c, cluster, aws.ToString(task.TaskArn), "RUNNING")
		ports = append(ports, aws.ToInt32(running.Containers[0].NetworkBindings[0].HostPort))
	}

	e := s.ELB()
	lbOut, err := e.CreateLoadBalancer(bg, &elb.CreateLoadBalancerInput{Name: aws.String("front")})
	if err != nil {
		t.Fatal(err)
	}
	lbARN := lbOut.LoadBalancers[0].LoadBalancerArn
	tg, err := e.CreateTargetGroup(bg, &elb.CreateTargetGroupInput{Name: aws.String("api"), Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(8080), TargetType: elbtypes.TargetTypeEnumIp, HealthCheckPath: aws.String("/healthz"),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	var targets []elbtypes.TargetDescription
	for _, p := range ports {
		targets = append(targets, elbtypes.TargetDescription{Id: aws.String("127.0.0.1"), Port: aws.Int32(p)})
	}
	if _, err := e.RegisterTargets(bg, &elb.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: targets}); err != nil {
		t.Fatal(err)
	}
	port := testport.Free(t)
	ln, err := e.CreateListener(bg, &elb.CreateListenerInput{LoadBalancerArn: lbARN, Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(port)),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain"), MessageBody: aws.String("no route")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateRule(bg, &elb.CreateRuleInput{ListenerArn: ln.Listeners[0].ListenerArn, Priority: aws.Int32(10),
		Conditions: []elbtypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/env*"}}},
		Actions:    []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tgARN}}}); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, e, tgARN, 2)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	hosts := map[string]bool{}
	for i := 0; i < 20; i++ {
		resp, err := http.Get(base + "/env")
		if err != nil {
			t.Fatal(err)
		}
		var env map[string]string
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || env["HOSTNAME"] == "" {
			t.Fatalf("GET /env through the load balancer: %d %v %v", resp.StatusCode, err, env)
		}
		hosts[env["HOSTNAME"]] = true
	}
	if len(hosts) != 2 {
		t.Fatalf("requests reached %d tasks, want both: %v", len(hosts), hosts)
	}
	resp, err := http.Get(base + "/other")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || string(body) != "no route" {
		t.Fatalf("GET /other: %d %q, want the fixed response", resp.StatusCode, body)
	}
}
