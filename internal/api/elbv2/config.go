package elbv2

import (
	"context"
	"slices"

	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/store"
)

// BuildConfig reads every ELBv2 record of st and returns the data plane's
// snapshot of them, for lb.Server.Update: load balancers, listeners and
// target groups in key order, rules by listener and priority. The records
// are read in one list per kind; a change between the lists shows in the
// next build, so callers rebuild on every change under /elbv2/.
func BuildConfig(ctx context.Context, st store.Store) (lb.Config, error) {
	s, err := readState(ctx, st)
	if err != nil {
		return lb.Config{}, err
	}
	var cfg lb.Config
	lbs := map[string]bool{}
	for _, it := range s.loadBalancers {
		cfg.LoadBalancers = append(cfg.LoadBalancers, it.Value.LoadBalancer)
		lbs[it.Value.ARN] = true
	}
	listeners := map[string]bool{}
	for _, it := range s.listeners {
		if lbs[it.Value.LoadBalancerARN] {
			cfg.Listeners = append(cfg.Listeners, it.Value.Listener)
			listeners[it.Value.ARN] = true
		}
	}
	for _, it := range s.rules {
		if listeners[it.Value.ListenerARN] {
			cfg.Rules = append(cfg.Rules, it.Value.Rule)
		}
	}
	slices.SortStableFunc(cfg.Rules, func(a, b lb.Rule) int {
		if a.ListenerARN != b.ListenerARN {
			if a.ListenerARN < b.ListenerARN {
				return -1
			}
			return 1
		}
		return a.Priority - b.Priority
	})
	for _, it := range s.targetGroups {
		cfg.TargetGroups = append(cfg.TargetGroups, it.Value.TargetGroup)
	}
	return cfg, nil
}
