package elbv2

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/store"
)

// Prefix is the store prefix of every ELBv2 record: a change under it may
// change what BuildConfig returns.
const Prefix = prefix

// defaultInstanceAddress is where an instance target is reached when its
// container instance names no address.
const defaultInstanceAddress = "127.0.0.1"

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
	for _, it := range s.loadBalancers {
		l := it.Value.LoadBalancer
		// Validated when set; the default (60) when not.
		l.IdleTimeoutSeconds, _ = strconv.Atoi(it.Value.attributes()[idleTimeoutAttribute])
		cfg.LoadBalancers = append(cfg.LoadBalancers, l)
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
			addr = defaultInstanceAddress
		}
		addrs[ci.EC2InstanceID] = addr
		active[ci.EC2InstanceID] = ci.Status == flotilla.InstanceActive
	}
	return addrs, nil
}

// readSnapshot reads every record in one list of the store, so that they
// are all as of one revision, which it returns.
func readSnapshot(ctx context.Context, st store.Store) (*state, int64, error) {
	kvs, rev, err := st.List(ctx, prefix, store.ListOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", prefix, err)
	}
	var s state
	for _, kv := range kvs {
		var err error
		switch {
		case strings.HasPrefix(kv.Key, prefixLoadBalancer):
			s.loadBalancers, err = appendItem(s.loadBalancers, kv)
		case strings.HasPrefix(kv.Key, prefixTargetGroup):
			s.targetGroups, err = appendItem(s.targetGroups, kv)
		case strings.HasPrefix(kv.Key, prefixListener):
			s.listeners, err = appendItem(s.listeners, kv)
		case strings.HasPrefix(kv.Key, prefixRule):
			s.rules, err = appendItem(s.rules, kv)
		}
		if err != nil {
			return nil, 0, err
		}
	}
	return &s, rev, nil
}

func appendItem[T any](items []store.Item[T], kv store.KV) ([]store.Item[T], error) {
	var v T
	if err := json.Unmarshal(kv.Value, &v); err != nil {
		return items, fmt.Errorf("decode %s: %w", kv.Key, err)
	}
	return append(items, store.Item[T]{Key: kv.Key, Value: v, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision, Version: kv.Version}), nil
}
