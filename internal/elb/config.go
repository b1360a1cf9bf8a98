package elb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/cert"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/store"
)

// BuildConfig reads every ELBv2 record of st and returns the data plane's
// snapshot of them, for lb.Server.Update, with the store revision the
// records were read at: every change under Prefix up to that revision is
// in the snapshot, and none after it. Load balancers, listeners and target
// groups come in key order, rules by listener and priority.
//
// The targets of instance target groups are resolved to the address of
// the container instance whose EC2 instance ID they name (read from
// flotilla.InstancesPrefix just after the records; an instance without an
// address is reached at 127.0.0.1); a target whose instance is unknown is
// left out. Callers rebuild on every change under Prefix and
// flotilla.InstancesPrefix.
func BuildConfig(ctx context.Context, st store.Store) (lb.Config, int64, error) {
	s, rev, err := readSnapshot(ctx, st)
	if err != nil {
		return lb.Config{}, 0, err
	}
	addrs, err := instanceAddresses(ctx, st)
	if err != nil {
		return lb.Config{}, 0, err
	}
	var cfg lb.Config
	lbs := map[string]bool{}
	for _, it := range s.LoadBalancers {
		l := it.Value.LoadBalancer
		// Validated when set; the default (60) when not.
		l.IdleTimeoutSeconds, _ = strconv.Atoi(it.Value.AllAttributes()[AttrIdleTimeout])
		cfg.LoadBalancers = append(cfg.LoadBalancers, l)
		lbs[it.Value.ARN] = true
	}
	listeners := map[string]bool{}
	for _, it := range s.Listeners {
		if lbs[it.Value.LoadBalancerARN] {
			cfg.Listeners = append(cfg.Listeners, it.Value.Listener)
			listeners[it.Value.ARN] = true
		}
	}
	for _, it := range s.Rules {
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
	for _, it := range s.TargetGroups {
		tg := it.Value.TargetGroup
		if tg.TargetType != lb.TargetTypeIP {
			tg.Targets = resolveInstanceTargets(tg.Targets, addrs)
		}
		cfg.TargetGroups = append(cfg.TargetGroups, tg)
	}
	if err := certificateMaterial(ctx, st, &cfg); err != nil {
		return lb.Config{}, 0, err
	}
	return cfg, rev, nil
}

// resolveInstanceTargets returns the targets whose instance is known, with
// its address.
func resolveInstanceTargets(targets []lb.Target, addrs map[string]string) []lb.Target {
	var out []lb.Target
	for _, t := range targets {
		addr, ok := addrs[t.ID]
		if !ok {
			continue
		}
		t.Address = addr
		out = append(out, t)
	}
	return out
}

// instanceAddresses returns the address of every container instance, by
// EC2 instance ID. Of two instances with one EC2 instance ID (an instance
// registered again), an active one wins.
func instanceAddresses(ctx context.Context, st store.Store) (map[string]string, error) {
	items, _, err := store.ListJSON[flotilla.ContainerInstance](ctx, st, flotilla.InstancesPrefix, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list container instances: %w", err)
	}
	addrs := map[string]string{}
	active := map[string]bool{}
	for _, it := range items {
		ci := it.Value
		if ci.EC2InstanceID == "" || (active[ci.EC2InstanceID] && ci.Status != flotilla.InstanceActive) {
			continue
		}
		addr := ci.Address
		if addr == "" {
			addr = DefaultInstanceAddress
		}
		addrs[ci.EC2InstanceID] = addr
		active[ci.EC2InstanceID] = ci.Status == flotilla.InstanceActive
	}
	return addrs, nil
}

// certificateMaterial adds to cfg the material of the certificates its
// listeners present, read from ACM's records after the snapshot (a
// re-import is the newer material). A certificate ACM no longer has is
// left out: its listeners fail to update on the data plane and keep what
// they had.
func certificateMaterial(ctx context.Context, st store.Store, cfg *lb.Config) error {
	seen := map[string]bool{}
	for _, l := range cfg.Listeners {
		for _, c := range l.Certificates {
			if seen[c.ARN] {
				continue
			}
			seen[c.ARN] = true
			certPEM, chain, key, err := cert.Lookup(ctx, st, c.ARN)
			if errors.Is(err, cert.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			pemChain := string(certPEM)
			if len(chain) > 0 {
				pemChain += "\n" + string(chain)
			}
			cfg.Certificates = append(cfg.Certificates, lb.CertificateMaterial{ARN: c.ARN, CertificatePEM: pemChain, PrivateKeyPEM: string(key)})
		}
	}
	return nil
}
