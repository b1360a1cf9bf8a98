package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run measured.
type wrkResult struct {
	rps      float64
	requests int64
	cpu      time.Duration // used meanwhile by the proxy's processes; 0 when unknown
	p50      time.Duration
	p99      time.Duration
	errors   string // socket errors and non-2xx/3xx responses, as wrk words them
}

// runWrk runs wrk against url and parses its report.
// The CPU time the process pid (and its children) used meanwhile is noted.
func runWrk(ctx context.Context, wrk string, threads, conns int, d time.Duration, url string, pid int) (wrkResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "10s", "--latency", url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cpu0, ok0 := cpuTime(pid)
	err := cmd.Run()
	cpu1, ok1 := cpuTime(pid)
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, out.String())
	}
	res, err := parseWrk(&out)
	if ok0 && ok1 {
		res.cpu = cpu1 - cpu0
	}
	if err != nil {
		return res, fmt.Errorf("wrk: %w: %s", err, out.String())
	}
	return res, nil
}

// parseWrk reads the report of wrk --latency.
func parseWrk(r io.Reader) (wrkResult, error) {
	var res wrkResult
	var errs []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return res, fmt.Errorf("requests/sec %q: %w", f[1], err)
			}
			res.rps = v
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return res, fmt.Errorf("requests %q: %w", f[0], err)
			}
			res.requests = n
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return res, fmt.Errorf("latency %q: %w", f[1], err)
			}
			if f[0] == "50%" {
				res.p50 = d
			} else {
				res.p99 = d
			}
		case len(f) > 0 && (f[0] == "Socket" || f[0] == "Non-2xx"):
			errs = append(errs, strings.Join(f, " "))
		}
	}
	if res.rps == 0 || res.p99 == 0 || res.requests == 0 {
		return res, fmt.Errorf("no requests/sec or 99%% latency in the report")
	}
	res.errors = strings.Join(errs, "; ")
	return res, sc.Err()
}
