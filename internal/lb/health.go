package lb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Descriptions of the states, DescribeTargetHealth's wording.
const (
	descRegistration   = "Target registration is in progress"
	descInitialChecks  = "Initial health checks in progress"
	descTimeout        = "Request timed out"
	descFailed         = "Health checks failed"
	descDeregistration = "Target deregistration is in progress"
	descNotInUse       = "Target group is not configured to receive traffic from the load balancer"
)

// health is a target's state with the streak of check results behind it.
type health struct {
	state, reason, description string
	successes, failures        int // consecutive, capped at the thresholds
}

var (
	healthInitial  = health{state: StateInitial, reason: ReasonRegistrationInProgress, description: descRegistration}
	healthDraining = health{state: StateDraining, reason: ReasonDeregistrationInProgress, description: descDeregistration}
	healthNotInUse = health{state: StateUnused, reason: ReasonNotInUse, description: descNotInUse}
)

// probeResult is the outcome of one health check.
type probeResult struct {
	ok          bool
	reason      string // why it failed: one of the Target.* reasons
	description string
}

// observe returns the health after one more check result, by ELBv2's rules:
// HealthyThresholdCount consecutive successes make a target healthy,
// UnhealthyThresholdCount consecutive failures unhealthy, and a target in
// initial stays there until either happens.
func (h health) observe(res probeResult, healthyThreshold, unhealthyThreshold int) health {
	if res.ok {
		h.failures = 0
		h.successes = min(h.successes+1, healthyThreshold)
		switch {
		case h.state == StateHealthy:
		case h.successes >= healthyThreshold:
			h.state, h.reason, h.description = StateHealthy, "", ""
		case h.state == StateInitial:
			h.reason, h.description = ReasonInitialHealthChecking, descInitialChecks
		}
		return h
	}
	h.successes = 0
	h.failures = min(h.failures+1, unhealthyThreshold)
	switch {
	case h.state == StateUnhealthy || h.failures >= unhealthyThreshold:
		h.state, h.reason, h.description = StateUnhealthy, res.reason, res.description
	case h.state == StateInitial:
		h.reason, h.description = ReasonInitialHealthChecking, descInitialChecks
	}
	return h
}

// prober sends health checks: a new connection for every check (as ELBv2
// does), redirects not followed, certificates not verified.
type prober struct {
	client *http.Client
}

func newProber(connectTimeout time.Duration) *prober {
	return &prober{client: &http.Client{
		Transport: &http.Transport{
			DialContext:        (&net.Dialer{Timeout: connectTimeout}).DialContext,
			DisableKeepAlives:  true,
			DisableCompression: true,
			// ELBv2 does not verify the certificates of targets.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // targets' certificates are not verified, as in ELBv2
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// maxHealthBody is how much of a health check response body is read.
const maxHealthBody = 64 << 10

// probe checks a target once.
func (p *prober) probe(ctx context.Context, url string, sp healthSpec) probeResult {
	ctx, cancel := context.WithTimeout(ctx, sp.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return probeResult{reason: ReasonFailedHealthChecks, description: descFailed}
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	resp, err := p.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHealthBody))
		resp.Body.Close()
	}
	switch {
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)):
		return probeResult{reason: ReasonTimeout, description: descTimeout}
	case err != nil:
		return probeResult{reason: ReasonFailedHealthChecks, description: descFailed}
	case !sp.codes.contains(resp.StatusCode):
		return probeResult{
			reason:      ReasonResponseCodeMismatch,
			description: fmt.Sprintf("Health checks failed with these codes: [%d]", resp.StatusCode),
		}
	}
	return probeResult{ok: true}
}

// healthURL is where a target is checked.
func healthURL(t *target, sp healthSpec) string {
	port := t.Port
	if sp.port != 0 {
		port = sp.port
	}
	return sp.scheme + "://" + net.JoinHostPort(t.Address, strconv.Itoa(port)) + sp.path
}

// check probes t every interval until ctx ends, reporting each result to
// its group. The first check comes after a random part of the interval
// (at most a second), so that targets registered together are not checked
// in lockstep.
func (tg *targetGroup) check(ctx context.Context, t *target, sp healthSpec) {
	url := healthURL(t, sp)
	wait := time.Duration(rand.Int64N(int64(min(sp.interval, time.Second))))
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		res := tg.deps.prober.probe(ctx, url, sp)
		if ctx.Err() != nil {
			return
		}
		tg.observe(ctx, t, res)
		timer.Reset(sp.interval - time.Since(start))
	}
}
