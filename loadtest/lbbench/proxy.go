package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
)

// ARNs of the load test's one load balancer.
const (
	benchLB       = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/lbbench/1"
	benchListener = "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/lbbench/1/1"
	benchTG       = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/lbbench/1"
)

// runProxy serves Flotilla's load balancer: one HTTP listener on a free
// port of 127.0.0.1 forwarding to an ip target group of the targets. It
// prints "listening on ADDR" once every target is healthy, and runs until
// SIGTERM or SIGINT.
func runProxy(args []string) int {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	targets := fs.String("targets", "", "comma-separated `host:port`s of the targets")
	pprofAddr := fs.String("pprof", "", "`address` to serve /debug/pprof on")
	if fs.Parse(args) != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "lbbench proxy:", err)
		return 1
	}
	tg := lb.TargetGroup{
		ARN: benchTG, Name: "lbbench", Protocol: lb.ProtocolHTTP, TargetType: lb.TargetTypeIP,
		HealthCheck: lb.HealthCheck{IntervalSeconds: 1, HealthyThresholdCount: 2, TimeoutSeconds: 0.5},
	}
	for _, hp := range strings.Split(*targets, ",") {
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			return fail(err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return fail(err)
		}
		tg.Targets = append(tg.Targets, lb.Target{ID: host, Port: p})
		tg.Port = p
	}
	cfg := lb.Config{
		LoadBalancers: []lb.LoadBalancer{{ARN: benchLB, Name: "lbbench"}},
		Listeners: []lb.Listener{{
			ARN: benchListener, LoadBalancerARN: benchLB, Protocol: lb.ProtocolHTTP,
			DefaultActions: []lb.Action{{Type: lb.ActionForward, TargetGroupARN: benchTG}},
		}},
		TargetGroups: []lb.TargetGroup{tg},
	}

	// The options `flotilla server` uses, but for health checks every
	// second so that the targets are healthy soon.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := lb.Options{Logger: log, MinHealthCheckInterval: time.Second}
	// -env LBBENCH_EVENT_LOOPS=-1 measures the load balancer with a
	// goroutine per connection instead of its event loops.
	if v := os.Getenv("LBBENCH_EVENT_LOOPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fail(fmt.Errorf("LBBENCH_EVENT_LOOPS: %w", err))
		}
		opts.EventLoops = n
	}
	srv := lb.New(opts)
	defer srv.Close()
	if err := srv.Update(cfg); err != nil {
		return fail(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !allHealthy(srv.Health(benchTG)) {
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("targets not healthy within 30s: %+v", srv.Health(benchTG)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if *pprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() { fmt.Fprintln(os.Stderr, "lbbench proxy: pprof:", http.ListenAndServe(*pprofAddr, mux)) }() //nolint:gosec // a local debugging endpoint
	}
	fmt.Println("listening on", srv.Addr(benchListener))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
	return 0
}

func allHealthy(hs []lb.TargetHealth) bool {
	for _, h := range hs {
		if h.State != lb.StateHealthy {
			return false
		}
	}
	return len(hs) > 0
}
