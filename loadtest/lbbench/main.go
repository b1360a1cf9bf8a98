// Command lbbench is the load test of Flotilla's load balancer: wrk through
// Flotilla's data plane (internal/lb) to two backends, against wrk through
// nginx as a reverse proxy (upstream keep-alive on) to the same two
// backends, in the same run, at the same concurrency, alternating the two
// over several rounds. It prints each round's requests per second and 99th
// percentile latency, and the ratios flotilla/nginx against the targets
// (throughput ≥ 1.0×, p99 ≤ 1.2×).
//
// Usage:
//
//	go run ./loadtest/lbbench [-d 15s] [-c 50] [-t 2] [-rounds 3] [-warmup 5s]
//
// It needs wrk and nginx on the PATH (make deps installs them) and runs
// everything on 127.0.0.1. Every part runs in a process of its own, so that
// none shares a Go runtime (scheduler, garbage collector) with another: the
// command re-executes itself as the backends ("lbbench backend") and as the
// load balancer ("lbbench proxy"), starts nginx with its own prefix in a
// temporary directory, and runs wrk. The load balancer is the lb package
// with the options `flotilla server` gives it, serving one HTTP listener
// whose default action forwards to an ip target group of the two backends.
// nginx gets as many worker processes as the load balancer has Go
// processors (-workers, the CPU count by default) and the same work per
// request: X-Forwarded-For, -Proto and -Port, a request ID header and the
// Host header passed through. All processes end with the command.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "backend":
			os.Exit(runBackend(os.Args[2:]))
		case "proxy":
			os.Exit(runProxy(os.Args[2:]))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lbbench:", err)
		os.Exit(1)
	}
}

// config is what a run does.
type config struct {
	duration    time.Duration // of each measured wrk run
	warmup      time.Duration // of the unmeasured wrk run against each proxy first
	connections int
	threads     int
	rounds      int
	workers     int // nginx worker processes, and the load balancer's GOMAXPROCS
	bodySize    int // of the backends' responses
	wrk, nginx  string
	pprof       string // address the load balancer serves net/http/pprof on
	fail        bool   // exit 1 when a target is missed
	env         string // extra environment of the load balancer process
	aa          bool   // a second nginx in the load balancer's place
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("lbbench", flag.ContinueOnError)
	fs.DurationVar(&c.duration, "d", 15*time.Second, "duration of each measured wrk run")
	fs.DurationVar(&c.warmup, "warmup", 5*time.Second, "duration of the unmeasured warm-up run against each proxy")
	fs.IntVar(&c.connections, "c", 50, "wrk connections")
	fs.IntVar(&c.threads, "t", 2, "wrk threads")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds; each measures both proxies, in alternating order")
	fs.IntVar(&c.workers, "workers", runtime.NumCPU(), "nginx worker processes, and the load balancer's GOMAXPROCS and so its event loops")
	fs.IntVar(&c.bodySize, "body", 128, "size in bytes of the backends' responses")
	fs.StringVar(&c.wrk, "wrk", "wrk", "wrk `command`")
	fs.StringVar(&c.nginx, "nginx", "nginx", "nginx `command`")
	fs.StringVar(&c.pprof, "pprof", "", "`address` on which the load balancer process serves /debug/pprof (e.g. 127.0.0.1:6060)")
	fs.StringVar(&c.env, "env", "", "space-separated `NAME=value`s added to the load balancer process's environment (e.g. GOGC=200)")
	fs.BoolVar(&c.fail, "fail", false, "exit with status 1 when a target is missed")
	fs.BoolVar(&c.aa, "aa", false, "A/A run: a second nginx, configured the same, takes the load balancer's place, to show how far the ratios of two identical proxies spread on this machine")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.duration <= 0 || c.warmup < 0 || c.connections < 1 || c.threads < 1 || c.threads > c.connections ||
		c.rounds < 1 || c.workers < 1 || c.bodySize < 0 {
		return c, errors.New("flags out of range")
	}
	return c, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	for _, cmd := range []string{c.wrk, c.nginx} {
		if _, err := exec.LookPath(cmd); err != nil {
			return fmt.Errorf("%w (make deps installs wrk and nginx)", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "lbbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var procs []*process
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
	}()

	be, err := start(ctx, "backends", self, "backend", "-n", "2", "-body", fmt.Sprint(c.bodySize))
	if err != nil {
		return err
	}
	procs = append(procs, be)
	backends := strings.Fields(be.ready)

	ng, err := startNginxIn(ctx, c, dir, "nginx", backends)
	if err != nil {
		return err
	}
	procs = append(procs, ng)

	// The proxy measured against nginx: the load balancer, or in an A/A
	// run a second nginx.
	var fl *process
	name, about := "flotilla", fmt.Sprintf("flotilla (lb package, GOMAXPROCS=%d: as many event loops, and the package adds a processor for the rest)", c.workers)
	if c.aa {
		name, about = "nginx-b", fmt.Sprintf("nginx-b (%d workers, the same configuration)", c.workers)
		fl, err = startNginxIn(ctx, c, dir, name, backends)
	} else {
		proxyArgs := []string{"proxy", "-targets", strings.Join(backends, ",")}
		if c.pprof != "" {
			proxyArgs = append(proxyArgs, "-pprof", c.pprof)
		}
		fl, err = startEnv(ctx, "flotilla", append([]string{fmt.Sprintf("GOMAXPROCS=%d", c.workers)}, strings.Fields(c.env)...), self, proxyArgs...)
	}
	if err != nil {
		return err
	}
	procs = append(procs, fl)

	targets := []struct {
		name, url string
		pid       int
	}{
		{name, "http://" + fl.ready + "/", fl.cmd.Process.Pid},
		{"nginx", "http://" + ng.ready + "/", ng.cmd.Process.Pid},
	}
	fmt.Fprintf(out, "lbbench: wrk -t%d -c%d -d%s --latency, %d rounds; 2 backends (%d-byte responses) at %s\n",
		c.threads, c.connections, c.duration, c.rounds, c.bodySize, strings.Join(backends, " "))
	fmt.Fprintf(out, "%s at %s; nginx (%d workers, upstream keepalive) at %s; %d CPUs\n",
		about, fl.ready, c.workers, ng.ready, runtime.NumCPU())
	if c.warmup > 0 {
		for _, t := range targets {
			if _, err := runWrk(ctx, c.wrk, c.threads, c.connections, c.warmup, t.url, t.pid); err != nil {
				return fmt.Errorf("warm up %s: %w", t.name, err)
			}
		}
	}

	var results []round
	for i := range c.rounds {
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		var r round
		for _, j := range order {
			res, err := runWrk(ctx, c.wrk, c.threads, c.connections, c.duration, targets[j].url, targets[j].pid)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", i+1, targets[j].name, err)
			}
			if j == 0 {
				r.flotilla = res
			} else {
				r.nginx = res
			}
		}
		results = append(results, r)
	}
	if !report(out, name, results) && c.fail {
		return errors.New("targets missed")
	}
	return nil
}

// process is a child process: the backends, the load balancer or nginx.
type process struct {
	name  string
	cmd   *exec.Cmd
	ready string // what it printed once ready (its addresses)
	done  chan struct{}
}

// start runs a child process and waits for its first line of output, which
// says it is ready.
func start(ctx context.Context, name, path string, args ...string) (*process, error) {
	return startEnv(ctx, name, nil, path, args...)
}

func startEnv(ctx context.Context, name string, env []string, path string, args ...string) (*process, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = childAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case line, ok := <-lines:
		if ok {
			p.ready = strings.TrimPrefix(line, "listening on ")
			return p, nil
		}
		p.stop()
		return nil, fmt.Errorf("%s exited before it was ready", name)
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s not ready within 60s", name)
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop ends the process: SIGTERM, then SIGKILL after 5 seconds.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
