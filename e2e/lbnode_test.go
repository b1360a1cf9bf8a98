package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/flotilla/flotilla/internal/testport"
)

// lbProc is a running `flotilla lb`.
type lbProc struct {
	cmd     *exec.Cmd
	logs    *syncWriter
	waited  chan struct{}
	metrics string // base URL of its /metrics
}

// startLB runs `flotilla lb` against s, its listeners bound to bind, with
// the further flags args.
func startLB(t testing.TB, s *server, nodeID, bind string, args ...string) *lbProc {
	t.Helper()
	metricsPort := testport.Free(t)
	cmd := exec.Command(binary, append([]string{"lb", "--server", s.Endpoint, "--node-id", nodeID, "--bind-address", bind,
		"--metrics-listen", fmt.Sprintf("127.0.0.1:%d", metricsPort), "--log-level", "debug"}, args...)...)
	cmd.Env = append(os.Environ(), "FLOTILLA_ACCESS_KEY_ID="+s.Env["AWS_ACCESS_KEY_ID"], "FLOTILLA_SECRET_ACCESS_KEY="+s.Env["AWS_SECRET_ACCESS_KEY"])
	p := &lbProc{cmd: cmd, logs: &syncWriter{w: &bytes.Buffer{}}, waited: make(chan struct{}),
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.waited) }()
	t.Cleanup(func() {
		select {
		case <-p.waited:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.waited:
			case <-time.After(40 * time.Second):
				cmd.Process.Kill()
				<-p.waited
			}
		}
		if t.Failed() {
			t.Logf("lb %s logs:\n%s", nodeID, p.logs.String())
		}
	})
	return p
}

// metric returns the value of the first sample of the metrics whose line
// starts with prefix, or "".
func (p *lbProc) metric(prefix string) string {
	resp, err := http.Get(p.metrics)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}

// startTestApp runs `testapp serve` on a free loopback port with the given
// greeting and returns its port.
func startTestApp(t testing.TB, bin, greeting string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GREETING="+greeting)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			go io.Copy(io.Discard, out)
			return addr[strings.LastIndexByte(addr, ':')+1:]
		}
	}
	t.Fatalf("testapp %s did not say where it listens", greeting)
	return ""
}

// TestLBNodes runs a server and two `flotilla lb` processes on 127.0.0.2
// and 127.0.0.3: both serve the listener made with the ELBv2 API and
// route to both backends, DescribeTargetHealth reports the targets healthy
// from the nodes' reports, a new rule reaches both, and when one process
// is killed the other serves on.
func TestLBNodes(t *testing.T) {
	dir := t.TempDir()
	testapp := filepath.Join(dir, "testapp")
	if out, err := exec.Command("go", "build", "-o", testapp, "../cmd/testapp").CombinedOutput(); err != nil {
		t.Fatalf("build testapp: %v\n%s", err, out)
	}
	s := startServer(t, filepath.Join(dir, "server"))
	backendPorts := []string{startTestApp(t, testapp, "alpha"), startTestApp(t, testapp, "beta")}
	// lb-a signs with the account's key pair, lb-b with the nodes' own,
	// which may call the nodes' routes only.
	var nodeKey struct{ AccessKeyID, SecretAccessKey string }
	if b, err := os.ReadFile(filepath.Join(dir, "server", "lb-node-credentials.json")); err != nil || json.Unmarshal(b, &nodeKey) != nil || nodeKey.AccessKeyID == "" {
		t.Fatalf("the nodes' credentials: %v %+v", err, nodeKey)
	}
	nodes := []*lbProc{startLB(t, s, "lb-a", "127.0.0.2"),
		startLB(t, s, "lb-b", "127.0.0.3", "--access-key-id", nodeKey.AccessKeyID, "--secret-access-key", nodeKey.SecretAccessKey)}
	bases := func(port int) []string {
		return []string{fmt.Sprintf("http://127.0.0.2:%d", port), fmt.Sprintf("http://127.0.0.3:%d", port)}
	}

	e := s.ELB()
	lbOut, err := e.CreateLoadBalancer(bg, &elb.CreateLoadBalancerInput{Name: aws.String("edge")})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := e.CreateTargetGroup(bg, &elb.CreateTargetGroupInput{Name: aws.String("app"), Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(80), TargetType: elbtypes.TargetTypeEnumIp, HealthCheckPath: aws.String("/healthz"),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	var targets []elbtypes.TargetDescription
	for _, p := range backendPorts {
		var port int32
		fmt.Sscan(p, &port)
		targets = append(targets, elbtypes.TargetDescription{Id: aws.String("127.0.0.1"), Port: aws.Int32(port)})
	}
	if _, err := e.RegisterTargets(bg, &elb.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: targets}); err != nil {
		t.Fatal(err)
	}
	port := testport.Free(t)
	ln, err := e.CreateListener(bg, &elb.CreateListenerInput{LoadBalancerArn: lbOut.LoadBalancers[0].LoadBalancerArn,
		Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(port)),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tgARN}}})
	if err != nil {
		t.Fatal(err)
	}

	// Healthy, as the nodes report it.
	waitHealthy(t, e, tgARN, 2)
	for i, n := range nodes {
		eventually(t, 60*time.Second, func() bool {
			return n.metric(`flotilla_lb_targets{state="healthy"`) == "2" && !slices.Contains([]string{"", "0"}, n.metric("flotilla_lbnode_reports_total"))
		})
		if rev := n.metric("flotilla_lbnode_applied_revision"); rev == "" || rev == "0" {
			t.Errorf("lb %d: applied revision %q", i, rev)
		}
	}

	get := func(url string) (int, string, error) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	// Both processes route to both backends.
	for _, base := range bases(port) {
		greetings := map[string]bool{}
		for range 20 {
			code, body, err := get(base + "/hello")
			if err != nil || code != 200 || !strings.Contains(body, "path=/hello") {
				t.Fatalf("GET %s/hello: %d %q %v", base, code, body, err)
			}
			for _, g := range []string{"alpha", "beta"} {
				if strings.Contains(body, "greeting="+g) {
					greetings[g] = true
				}
			}
		}
		if len(greetings) != 2 {
			t.Errorf("%s reached %v, want both backends", base, greetings)
		}
	}

	// A new rule reaches both.
	if _, err := e.CreateRule(bg, &elb.CreateRuleInput{ListenerArn: ln.Listeners[0].ListenerArn, Priority: aws.Int32(10),
		Conditions: []elbtypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/fixed"}}},
		Actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("200"), ContentType: aws.String("text/plain"), MessageBody: aws.String("from the rule")}}}}); err != nil {
		t.Fatal(err)
	}
	for _, base := range bases(port) {
		eventually(t, 30*time.Second, func() bool {
			code, body, err := get(base + "/fixed")
			return err == nil && code == 200 && body == "from the rule"
		})
	}

	// One process dies; the other serves on.
	nodes[0].cmd.Process.Kill()
	<-nodes[0].waited
	if _, _, err := get(bases(port)[0] + "/hello"); err == nil {
		t.Errorf("the killed node still answers")
	}
	for range 20 {
		code, body, err := get(bases(port)[1] + "/hello")
		if err != nil || code != 200 || !strings.Contains(body, "greeting=") {
			t.Fatalf("GET from the surviving node: %d %q %v", code, body, err)
		}
	}
	if code, body, err := get(bases(port)[1] + "/fixed"); err != nil || code != 200 || body != "from the rule" {
		t.Fatalf("GET /fixed from the surviving node: %d %q %v", code, body, err)
	}
}
