// Command testapp is the workload Flotilla's tests run in containers. It is
// a static binary built into a FROM scratch image (see internal/testimage),
// so it also stands in for the shell tools such an image lacks.
//
// Usage:
//
//	testapp serve [-addr :8080] [-ignore-term]
//	    HTTP server. GET / (and any other path) names the host, $GREETING
//	    and the path; GET /healthz
//	    answers 200, or 503 after POST /unhealthy until POST /healthy;
//	    GET /env echoes the environment as a JSON object; GET /sleep?d=100ms
//	    answers after the given delay. It prints "listening on ADDR" once
//	    ready. SIGTERM or SIGINT shuts it down gracefully (exit 0), saying
//	    so; with -ignore-term SIGTERM is logged and ignored (so that only
//	    SIGKILL stops it) while SIGINT still shuts it down.
//	testapp check -url URL [-timeout 2s]
//	    Exits 0 if GET URL answers 2xx within the timeout, else 1 (for a
//	    Docker HEALTHCHECK in an image with no shell or curl).
//	testapp exit [-code 0] [-after 0s]
//	    Prints a line, sleeps, exits with the code.
//	testapp sleep [-for DURATION | DURATION]
//	    Says it sleeps, then sleeps; 0 or no duration sleeps until
//	    terminated.
//	testapp burn [-cpus 1] [-for 0s]
//	    Keeps cpus cores busy; -for 0 burns until terminated.
//	testapp log [-every 100ms] [-n 10]
//	    Prints n numbered lines to stdout ("stdout N") and to stderr
//	    ("stderr N"), one of each every interval; -n 0 logs until terminated.
//	testapp write -path P -text T
//	    Writes T to the file P.
//	testapp cat -path P
//	    Copies the file P to stdout.
//	testapp touch -path P
//	    Creates the file P; fails on a read-only file system.
//
// Every command but serve ends early on SIGTERM or SIGINT with exit code
// 143, naming the signal on stderr. A usage error exits 2, a failed command
// 1. Commands that wait print a line first, once their signal handlers are
// in place, so a test can wait for that line before signalling.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
	os.Exit(run(os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, signals: signals}))
}
