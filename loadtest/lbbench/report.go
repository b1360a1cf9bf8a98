package main

import (
	"fmt"
	"io"
	"math"
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

// round is one measurement of each proxy: the load balancer (or, in an
// A/A run, the second nginx) and nginx.
type round struct{ flotilla, nginx wrkResult }

// report prints the rounds and the verdict, and reports whether both
// targets were met. Throughput compares the sums over the rounds; p99
// compares the medians of the rounds' p99s. name is the proxy measured
// against nginx.
func report(out io.Writer, name string, rounds []round) bool {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "round\t%[1]s req/s\tnginx req/s\tratio\t%[1]s p50\tnginx p50\t%[1]s p99\tnginx p99\tratio\t%[1]s CPU/req\tnginx CPU/req\t\n", name)
	var fRPS, nRPS float64
	var fP99, nP99 []time.Duration
	var fAll, nAll []wrkResult
	var ratios []float64
	for i, r := range rounds {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.2f×\t%s\t%s\t%s\t%s\t%.2f×\t%s\t%s\t\n", i+1,
			r.flotilla.rps, r.nginx.rps, r.flotilla.rps/r.nginx.rps,
			ms(r.flotilla.p50), ms(r.nginx.p50), ms(r.flotilla.p99), ms(r.nginx.p99),
			float64(r.flotilla.p99)/float64(r.nginx.p99), r.flotilla.cpuPerRequest(), r.nginx.cpuPerRequest())
		fRPS += r.flotilla.rps
		nRPS += r.nginx.rps
		fP99 = append(fP99, r.flotilla.p99)
		nP99 = append(nP99, r.nginx.p99)
		fAll = append(fAll, r.flotilla)
		nAll = append(nAll, r.nginx)
		ratios = append(ratios, r.flotilla.rps/r.nginx.rps)
	}
	n := float64(len(rounds))
	tput := fRPS / nRPS
	p99 := float64(median(fP99)) / float64(median(nP99))
	fmt.Fprintf(tw, "all\t%.0f\t%.0f\t%.2f×\t\t\t%s\t%s\t%.2f×\t%s\t%s\t\n", fRPS/n, nRPS/n, tput,
		ms(median(fP99)), ms(median(nP99)), p99, total(fAll).cpuPerRequest(), total(nAll).cpuPerRequest())
	_ = tw.Flush()
	for i, r := range rounds {
		if r.flotilla.errors != "" {
			fmt.Fprintf(out, "round %d %s: %s\n", i+1, name, r.flotilla.errors)
		}
		if r.nginx.errors != "" {
			fmt.Fprintf(out, "round %d nginx: %s\n", i+1, r.nginx.errors)
		}
	}
	if len(ratios) > 1 {
		g, lo, hi := ratioInterval(ratios)
		fmt.Fprintf(out, "throughput %s/nginx of the rounds: geometric mean %.3f×, 95%% confidence interval %.3f–%.3f× (%d rounds)\n",
			name, g, lo, hi, len(ratios))
	}
	okT, okP := tput >= minThroughputRatio, p99 <= maxP99Ratio
	fmt.Fprintf(out, "throughput %s/nginx %.2f× (target ≥ %.1f×): %s\n", name, tput, minThroughputRatio, verdict(okT))
	fmt.Fprintf(out, "p99 latency %s/nginx %.2f× (target ≤ %.1f×): %s\n", name, p99, maxP99Ratio, verdict(okP))
	return okT && okP
}

// total sums the requests and CPU time of rs; its CPU time is unknown (0)
// when one of theirs is.
func total(rs []wrkResult) wrkResult {
	var t wrkResult
	for _, r := range rs {
		if r.cpu == 0 {
			return wrkResult{}
		}
		t.requests += r.requests
		t.cpu += r.cpu
	}
	return t
}

// ratioInterval returns the geometric mean of ratios (at least two) and
// its 95% confidence interval, from Student's t over their logarithms: a
// round's ratio is a product of the two proxies' speeds and of whatever
// else the machine did meanwhile, so it is the logarithms that add up.
func ratioInterval(ratios []float64) (mean, lo, hi float64) {
	n := float64(len(ratios))
	var sum float64
	for _, r := range ratios {
		sum += math.Log(r)
	}
	m := sum / n
	var ss float64
	for _, r := range ratios {
		d := math.Log(r) - m
		ss += d * d
	}
	half := t975(len(ratios)-1) * math.Sqrt(ss/(n-1)/n)
	return math.Exp(m), math.Exp(m - half), math.Exp(m + half)
}

// t975 is the 97.5th percentile of Student's t with df degrees of freedom
// (from the table up to 30; 1.96 + 2.4/df beyond, within 0.002 of it).
func t975(df int) float64 {
	table := [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
		2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}
	if df >= 1 && df <= len(table) {
		return table[df-1]
	}
	return 1.96 + 2.4/float64(df)
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
