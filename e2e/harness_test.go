// Package e2e holds tests that start the real flotilla binary and drive it
// with clients nobody here wrote: the aws CLI, boto3 and aws-sdk-go-v2.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/flotilla/flotilla/internal/testimage"
	"github.com/flotilla/flotilla/internal/testport"
)

// binary is the flotilla binary built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flotilla-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "flotilla")
	build := exec.Command("go", "build", "-o", binary, "../cmd/flotilla")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build flotilla:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	err = testimage.Ensure(ctx, testimage.Tag)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the test image:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running flotilla process.
type server struct {
	cmd      *exec.Cmd
	Endpoint string
	// MetricsURL is the URL of its /metrics (--metrics-listen).
	MetricsURL string
	// Env holds the AWS_* variables the server printed.
	Env    map[string]string
	logs   *syncWriter
	waited chan struct{}
}

// startServer runs `flotilla server` on a free loopback port with dataDir
// and waits until it prints the export lines.
func startServer(t testing.TB, dataDir string, args ...string) *server {
	t.Helper()
	return start(t, "server", dataDir, args...)
}

// startUp runs `flotilla up` (server and agent in one process).
func startUp(t testing.TB, dataDir string, args ...string) *server {
	t.Helper()
	return start(t, "up", dataDir, args...)
}

func start(t testing.TB, command, dataDir string, args ...string) *server {
	t.Helper()
	return startWrapped(t, nil, command, dataDir, args...)
}

// startWrapped is start with the flotilla command line run by wrap (as
// prlimit runs it), when wrap is not empty.
func startWrapped(t testing.TB, wrap []string, command, dataDir string, args ...string) *server {
	t.Helper()
	// A port of testport's, not port 0: a test that restarts the server
	// on its address needs a port no outgoing connection takes meanwhile.
	listen := fmt.Sprintf("127.0.0.1:%d", testport.Free(t))
	// Not the default metrics port either: other servers may hold it.
	metrics := fmt.Sprintf("127.0.0.1:%d", testport.Free(t))
	cmdArgs := append([]string{command, "--listen", listen, "--metrics-listen", metrics, "--data-dir", dataDir}, args...)
	argv := append(append(wrap[:len(wrap):len(wrap)], binary), cmdArgs...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "FLOTILLA_ACCESS_KEY_ID=", "FLOTILLA_SECRET_ACCESS_KEY=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, MetricsURL: "http://" + metrics + "/metrics", Env: map[string]string{}, logs: &syncWriter{w: &bytes.Buffer{}}, waited: make(chan struct{})}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(s.waited) }()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs.String())
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	deadline := time.After(60 * time.Second)
	for s.Endpoint == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("server exited before serving; logs:\n%s", s.logs.String())
			}
			if k, v, found := strings.Cut(strings.TrimPrefix(line, "export "), "="); found && strings.HasPrefix(line, "export AWS_") {
				s.Env[k] = v
				if k == "AWS_ENDPOINT_URL" {
					s.Endpoint = v
				}
			}
		case <-deadline:
			t.Fatalf("server did not print its endpoint; logs:\n%s", s.logs.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return s
}

// Stop ends the server gracefully (SIGTERM) and waits for it.
func (s *server) Stop() {
	select {
	case <-s.waited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.waited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.waited
	}
}

// Kill ends the server with SIGKILL, as a crash would.
func (s *server) Kill() {
	s.cmd.Process.Kill()
	<-s.waited
}

// ECS returns an aws-sdk-go-v2 ECS client for the server with the SDK's
// default retryer, as users run it (it retries transport errors such as a
// pooled connection closed under it, never a 400).
func (s *server) ECS() *ecs.Client {
	return ecs.New(ecs.Options{
		Region:       s.Env["AWS_REGION"],
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(s.Env["AWS_ACCESS_KEY_ID"], s.Env["AWS_SECRET_ACCESS_KEY"], ""),
	})
}

// ELB returns an ELBv2 client of the server.
func (s *server) ELB() *elb.Client {
	return elb.New(elb.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.Env["AWS_ACCESS_KEY_ID"], s.Env["AWS_SECRET_ACCESS_KEY"], "")})
}

// cliResult is what one aws CLI run gave.
type cliResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// aws runs the aws CLI against the server with its printed environment.
func (s *server) aws(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runAWS(t, s.Env, args...)
}

func runAWS(t testing.TB, env map[string]string, args ...string) cliResult {
	t.Helper()
	return runCLI(t, "aws", env, args...)
}

// runCLI runs the aws CLI binary bin (the first aws on PATH is v1;
// Debian's v2 is /usr/bin/aws).
func runCLI(t testing.TB, bin string, env map[string]string, args ...string) cliResult {
	t.Helper()
	limit := time.Minute
	if len(args) > 1 && args[1] == "wait" { // a waiter polls for up to minutes
		limit = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--output", "json"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_MAX_ATTEMPTS=1", "AWS_PAGER="}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.ExitCode = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("aws %v: %v", args, err)
	}
	return res
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.(*bytes.Buffer).String()
}
