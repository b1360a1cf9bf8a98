package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// Targets of the issue: Flotilla's throughput at least nginx's, its p99 at
// most 1.2 times nginx's.
const (
	minThroughputRatio = 1.0
	maxP99Ratio        = 1.2
)

// round is one measurement of each proxy.
type round struct{ flotilla, nginx wrkResult }

// report prints the rounds and the verdict, and reports whether both
// targets were met. Throughput compares the sums over the rounds; p99
// compares the medians of the rounds' p99s.
func report(out io.Writer, rounds []round) bool {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tflotilla req/s\tnginx req/s\tratio\tflotilla p50\tnginx p50\tflotilla p99\tnginx p99\tratio\tflotilla CPU/req\tnginx CPU/req\t")
	var fRPS, nRPS float64
	var fP99, nP99 []time.Duration
	for i, r := range rounds {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.2f×\t%s\t%s\t%s\t%s\t%.2f×\t%s\t%s\t\n", i+1,
			r.flotilla.rps, r.nginx.rps, r.flotilla.rps/r.nginx.rps,
			ms(r.flotilla.p50), ms(r.nginx.p50), ms(r.flotilla.p99), ms(r.nginx.p99),
			float64(r.flotilla.p99)/float64(r.nginx.p99), r.flotilla.cpuPerRequest(), r.nginx.cpuPerRequest())
		fRPS += r.flotilla.rps
		nRPS += r.nginx.rps
		fP99 = append(fP99, r.flotilla.p99)
		nP99 = append(nP99, r.nginx.p99)
	}
	n := float64(len(rounds))
	tput := fRPS / nRPS
	p99 := float64(median(fP99)) / float64(median(nP99))
	fmt.Fprintf(tw, "all\t%.0f\t%.0f\t%.2f×\t\t\t%s\t%s\t%.2f×\t\t\t\n", fRPS/n, nRPS/n, tput, ms(median(fP99)), ms(median(nP99)), p99)
	_ = tw.Flush()
	for i, r := range rounds {
		if r.flotilla.errors != "" {
			fmt.Fprintf(out, "round %d flotilla: %s\n", i+1, r.flotilla.errors)
		}
		if r.nginx.errors != "" {
			fmt.Fprintf(out, "round %d nginx: %s\n", i+1, r.nginx.errors)
		}
	}
	okT, okP := tput >= minThroughputRatio, p99 <= maxP99Ratio
	fmt.Fprintf(out, "throughput flotilla/nginx %.2f× (target ≥ %.1f×): %s\n", tput, minThroughputRatio, verdict(okT))
	fmt.Fprintf(out, "p99 latency flotilla/nginx %.2f× (target ≤ %.1f×): %s\n", p99, maxP99Ratio, verdict(okP))
	return okT && okP
}

// cpuPerRequest is the proxy's CPU time per request, user and system, in
// microseconds.
func (r wrkResult) cpuPerRequest() string {
	if r.cpu == 0 {
		return "?"
	}
	return fmt.Sprintf("%.0fµs", float64(r.cpu)/float64(time.Microsecond)/float64(r.requests))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT MET"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
