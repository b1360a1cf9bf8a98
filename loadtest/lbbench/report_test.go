package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestRatioInterval(t *testing.T) {
	// Worked out by hand: logarithms' mean and standard deviation, t with
	// 4 degrees of freedom 2.776.
	mean, lo, hi := ratioInterval([]float64{0.96, 1.02, 1.05, 0.99, 1.08})
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"mean", mean, 1.019117}, {"low", lo, 0.961883}, {"high", hi, 1.079756}} {
		if math.Abs(c.got-c.want) > 1e-5 {
			t.Errorf("%s %.6f, want %.6f", c.name, c.got, c.want)
		}
	}
	mean, lo, hi = ratioInterval([]float64{1.1, 1.1, 1.1})
	if math.Abs(mean-1.1) > 1e-12 || math.Abs(lo-1.1) > 1e-12 || math.Abs(hi-1.1) > 1e-12 {
		t.Errorf("equal ratios: %v %v %v, want 1.1 each", mean, lo, hi)
	}
}

func TestT975(t *testing.T) {
	for df, want := range map[int]float64{1: 12.706, 9: 2.262, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980} {
		if got := t975(df); math.Abs(got-want) > 0.003 {
			t.Errorf("t975(%d) = %.3f, want %.3f", df, got, want)
		}
	}
}

func TestReport(t *testing.T) {
	res := func(rps float64, cpu time.Duration, p99 time.Duration) wrkResult {
		return wrkResult{rps: rps, requests: int64(rps), cpu: cpu, p50: time.Millisecond, p99: p99}
	}
	rounds := []round{
		{res(1000, 20*time.Millisecond, 4*time.Millisecond), res(1000, 30*time.Millisecond, 4*time.Millisecond)},
		{res(900, 18*time.Millisecond, 6*time.Millisecond), res(1000, 30*time.Millisecond, 4*time.Millisecond)},
	}
	var out bytes.Buffer
	if report(&out, "nginx-b", rounds) {
		t.Errorf("0.95× throughput reported as meeting the target:\n%s", &out)
	}
	for _, want := range []string{
		"nginx-b req/s", "0.95×", // 1,900 against 2,000 requests
		"1.25×",        // p99 median 5 ms against 4 ms
		"20µs", "30µs", // CPU per request over both rounds: 38 ms / 1,900, 60 ms / 2,000
		"geometric mean 0.949×", // √0.9
		"throughput nginx-b/nginx 0.95× (target ≥ 1.0×): NOT MET",
		"p99 latency nginx-b/nginx 1.25× (target ≤ 1.2×): NOT MET",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, &out)
		}
	}
	rounds[1].flotilla.cpu = 0 // unknown in one round: unknown over all
	out.Reset()
	report(&out, "flotilla", rounds)
	if lines := strings.Split(out.String(), "\n"); !strings.Contains(lines[3], "?") {
		t.Errorf("the all row gives a CPU per request though a round's is unknown:\n%s", &out)
	}
}
