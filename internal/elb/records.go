// Package elb is the domain of Flotilla's application load balancers, as
// ELBv2 describes them and without its wire types: the records of load
// balancers, listeners, rules and target groups as they are stored, their
// store keys, the rules of their attributes, the data plane's
// configuration built from them (BuildConfig) and the state of a target
// group that the service controller acts on. internal/api/elbv2 serves the
// ELBv2 operations over it; the controllers and the data plane nodes read
// it directly.
package elb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/store"
)

// Key prefixes of the records in the store. Every ELBv2 record is under
// Prefix: a change under it may change what BuildConfig returns.
const (
	Prefix              = "/elbv2/"
	LoadBalancersPrefix = Prefix + "loadbalancers/" // + name
	TargetGroupsPrefix  = Prefix + "targetgroups/"  // + name
	ListenersPrefix     = Prefix + "listeners/"     // + listener ID
	RulesPrefix         = Prefix + "rules/"         // + rule ID
	// PortsPrefix holds the claims of listener ports, at PortKey(port),
	// each the ARN of the listener that holds the port.
	PortsPrefix = Prefix + "ports/"
	// TagsPrefix holds the tags of each resource, at TagsKey(ARN).
	TagsPrefix = Prefix + "tags/"
)

// LoadBalancerKey is the store key of the load balancer named name.
func LoadBalancerKey(name string) string { return LoadBalancersPrefix + name }

// TargetGroupKey is the store key of the target group named name.
func TargetGroupKey(name string) string { return TargetGroupsPrefix + name }

// ListenerKey is the store key of the listener whose ARN ends with id.
func ListenerKey(id string) string { return ListenersPrefix + id }

// RuleKey is the store key of the rule whose ARN ends with id.
func RuleKey(id string) string { return RulesPrefix + id }

// PortKey is the store key of the claim of a listener port.
func PortKey(port int) string { return PortsPrefix + strconv.Itoa(port) }

// TagsKey is the store key of the tags of the resource arn.
func TagsKey(arn string) string { return TagsPrefix + arn }

// The records of the store. The data plane's types are their core, so
// that BuildConfig only gathers them; the rest is what the API reports.

// LoadBalancerRecord is a load balancer, at LoadBalancerKey(Name).
type LoadBalancerRecord struct {
	lb.LoadBalancer
	ID             string    `json:"id"`
	DNSName        string    `json:"dnsName"`
	Scheme         string    `json:"scheme"`
	IPAddressType  string    `json:"ipAddressType"`
	SecurityGroups []string  `json:"securityGroups,omitempty"`
	Subnets        []string  `json:"subnets,omitempty"`
	Created        time.Time `json:"created"`
	// Attributes are the load balancer attributes set with
	// ModifyLoadBalancerAttributes; the others have their defaults
	// (AllAttributes).
	Attributes map[string]string `json:"attributes,omitempty"`
}

// TargetGroupRecord is a target group with its targets, at
// TargetGroupKey(Name).
type TargetGroupRecord struct {
	lb.TargetGroup
	HealthCheckEnabled bool `json:"healthCheckEnabled"`
}

// ListenerRecord is a listener, at ListenerKey(ID). Its default rule is
// its DefaultActions, reported with DefaultRuleID.
type ListenerRecord struct {
	lb.Listener
	ID            string `json:"id"`
	DefaultRuleID string `json:"defaultRuleId"`
}

// RuleRecord is a rule of a listener other than its default, at
// RuleKey(ID).
type RuleRecord struct {
	lb.Rule
	ID string `json:"id"`
}

// State is every record, read for checks across them and for BuildConfig.
type State struct {
	LoadBalancers []store.Item[LoadBalancerRecord]
	TargetGroups  []store.Item[TargetGroupRecord]
	Listeners     []store.Item[ListenerRecord]
	Rules         []store.Item[RuleRecord]
}

// ReadState reads every record of st, kind by kind.
func ReadState(ctx context.Context, st store.Store) (*State, error) {
	var s State
	var err error
	if s.LoadBalancers, err = list[LoadBalancerRecord](ctx, st, LoadBalancersPrefix); err != nil {
		return nil, err
	}
	if s.TargetGroups, err = list[TargetGroupRecord](ctx, st, TargetGroupsPrefix); err != nil {
		return nil, err
	}
	if s.Listeners, err = list[ListenerRecord](ctx, st, ListenersPrefix); err != nil {
		return nil, err
	}
	if s.Rules, err = list[RuleRecord](ctx, st, RulesPrefix); err != nil {
		return nil, err
	}
	return &s, nil
}

func list[T any](ctx context.Context, st store.Store, prefix string) ([]store.Item[T], error) {
	items, _, err := store.ListJSON[T](ctx, st, prefix, store.ListOptions{})
	return items, err
}

// readSnapshot reads every record in one list of the store, so that they
// are all as of one revision, which it returns.
func readSnapshot(ctx context.Context, st store.Store) (*State, int64, error) {
	kvs, rev, err := st.List(ctx, Prefix, store.ListOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", Prefix, err)
	}
	var s State
	for _, kv := range kvs {
		var err error
		switch {
		case strings.HasPrefix(kv.Key, LoadBalancersPrefix):
			s.LoadBalancers, err = appendItem(s.LoadBalancers, kv)
		case strings.HasPrefix(kv.Key, TargetGroupsPrefix):
			s.TargetGroups, err = appendItem(s.TargetGroups, kv)
		case strings.HasPrefix(kv.Key, ListenersPrefix):
			s.Listeners, err = appendItem(s.Listeners, kv)
		case strings.HasPrefix(kv.Key, RulesPrefix):
			s.Rules, err = appendItem(s.Rules, kv)
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

// TargetGroupsOf returns the ARNs of the target groups that the actions
// forward to.
func TargetGroupsOf(actions []lb.Action) []string {
	var arns []string
	for _, a := range actions {
		if a.TargetGroupARN != "" {
			arns = append(arns, a.TargetGroupARN)
		}
		if a.ForwardConfig != nil {
			for _, t := range a.ForwardConfig.TargetGroups {
				arns = append(arns, t.TargetGroupARN)
			}
		}
	}
	return arns
}

// LoadBalancersOf returns, by target group ARN, the ARNs of the load
// balancers whose listeners or rules forward to the group.
func (s *State) LoadBalancersOf() map[string][]string {
	listenerLB := map[string]string{}
	out := map[string][]string{}
	add := func(tg, lbARN string) {
		for _, a := range out[tg] {
			if a == lbARN {
				return
			}
		}
		out[tg] = append(out[tg], lbARN)
	}
	for _, l := range s.Listeners {
		listenerLB[l.Value.ARN] = l.Value.LoadBalancerARN
		for _, tg := range TargetGroupsOf(l.Value.DefaultActions) {
			add(tg, l.Value.LoadBalancerARN)
		}
	}
	for _, r := range s.Rules {
		for _, tg := range TargetGroupsOf(r.Value.Actions) {
			add(tg, listenerLB[r.Value.ListenerARN])
		}
	}
	return out
}

// ValidName reports whether name is a valid load balancer or target group
// name: 1 to 32 alphanumerics or hyphens, no hyphen first or last.
func ValidName(name string) bool {
	if name == "" || len(name) > 32 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// CertificateUsers returns, by certificate ARN, the ARNs of the load
// balancers with a listener that presents the certificate: ACM's InUseBy,
// and what stops DeleteCertificate.
func CertificateUsers(ctx context.Context, st store.Store) (map[string][]string, error) {
	listeners, err := list[ListenerRecord](ctx, st, ListenersPrefix)
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, l := range listeners {
		for _, c := range l.Value.Certificates {
			if lbs := users[c.ARN]; !slices.Contains(lbs, l.Value.LoadBalancerARN) {
				users[c.ARN] = append(lbs, l.Value.LoadBalancerARN)
			}
		}
	}
	for _, lbs := range users {
		slices.Sort(lbs)
	}
	return users, nil
}

// ErrTargetGroupNotFound is what the errors of the controller's target
// operations (TargetGroupState, registering and deregistering targets)
// wrap when there is no such target group.
var ErrTargetGroupNotFound = errors.New("elb: target group not found")
