package elbv2

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// CreateRule adds a rule to a listener, at a priority that no other rule
// of the listener has (PriorityInUse otherwise).
func (s *Service) CreateRule(ctx context.Context, in *wire.CreateRuleInput) (*wire.CreateRuleOutput, error) {
	conds, err := conditionsFromWire(in.Conditions)
	if err != nil {
		return nil, err
	}
	if len(conds) == 0 {
		return nil, errValidation("A rule must have at least one condition")
	}
	actions, err := actionsFromWire(in.Actions)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFromWire(in.Tags)
	if err != nil {
		return nil, err
	}
	listenerARN, prio := ptr.Deref(in.ListenerArn), int(ptr.Deref(in.Priority))
	var rec elb.RuleRecord
	err = s.write(ctx, func() (store.Txn, error) {
		l, lrev, err := s.getListener(ctx, listenerARN)
		if err != nil {
			return store.Txn{}, err
		}
		if err := s.checkTargetGroups(ctx, actions); err != nil {
			return store.Txn{}, err
		}
		rules, err := list[elb.RuleRecord](ctx, s.store, elb.RulesPrefix)
		if err != nil {
			return store.Txn{}, err
		}
		for _, r := range rules {
			if r.Value.ListenerARN == listenerARN && r.Value.Priority == prio {
				return store.Txn{}, errPriorityInUse(prio)
			}
		}
		id := newID()
		rec = elb.RuleRecord{
			Rule: lb.Rule{
				ARN:         strings.Replace(l.ARN, ":listener/", ":listener-rule/", 1) + "/" + id,
				ListenerARN: listenerARN,
				Priority:    prio,
				Conditions:  conds,
				Actions:     actions,
			},
			ID: id,
		}
		key := elb.RuleKey(id)
		op, err := store.PutJSON(key, rec)
		if err != nil {
			return store.Txn{}, err
		}
		tagOps, err := putTags(rec.ARN, tags)
		return store.Txn{
			Compares: []store.Compare{{Key: elb.ListenerKey(l.ID), ModRevision: lrev}, {Key: key}},
			Ops:      append([]store.Op{op}, tagOps...),
		}, err
	})
	if err != nil {
		return nil, err
	}
	return &wire.CreateRuleOutput{Rules: []wire.Rule{ruleToWire(&rec)}}, nil
}

// DescribeRules describes the rules of a listener by priority, its default
// rule last, or the rules named by ARN, in the request's order, a page at
// a time.
func (s *Service) DescribeRules(ctx context.Context, in *wire.DescribeRulesInput) (*wire.DescribeRulesOutput, error) {
	var all []keyed[wire.Rule]
	switch {
	case in.ListenerArn != nil && len(in.RuleArns) > 0:
		return nil, errValidation("Rule ARNs and a listener ARN cannot be specified at the same time")
	case in.ListenerArn != nil:
		l, _, err := s.getListener(ctx, *in.ListenerArn)
		if err != nil {
			return nil, err
		}
		items, err := list[elb.RuleRecord](ctx, s.store, elb.RulesPrefix)
		if err != nil {
			return nil, err
		}
		for i := range items {
			if r := &items[i].Value; r.ListenerARN == l.ARN {
				all = append(all, keyed[wire.Rule]{numberKey(r.Priority), ruleToWire(r)})
			}
		}
		// After every priority (1 to 50000).
		all = append(all, keyed[wire.Rule]{numberKey(math.MaxInt32), defaultRuleToWire(l)})
	case len(in.RuleArns) > 0:
		for i, arn := range in.RuleArns {
			r, _, err := s.getRule(ctx, arn)
			var nf *wire.RuleNotFoundException
			if errors.As(err, &nf) {
				l, _, derr := s.getDefaultRule(ctx, arn)
				if derr != nil {
					return nil, derr
				}
				all = append(all, keyed[wire.Rule]{numberKey(i), defaultRuleToWire(l)})
				continue
			}
			if err != nil {
				return nil, err
			}
			all = append(all, keyed[wire.Rule]{numberKey(i), ruleToWire(r)})
		}
	default:
		return nil, errValidation("A listener ARN or rule ARNs must be specified")
	}
	rules, next, err := page(all, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &wire.DescribeRulesOutput{Rules: rules, NextMarker: next}, nil
}

// ModifyRule replaces the conditions or the actions of a rule; of a
// default rule, only the actions (the listener's default actions).
func (s *Service) ModifyRule(ctx context.Context, in *wire.ModifyRuleInput) (*wire.ModifyRuleOutput, error) {
	var conds []lb.Condition
	var actions []lb.Action
	var err error
	if in.Conditions != nil {
		if conds, err = conditionsFromWire(in.Conditions); err != nil {
			return nil, err
		}
	}
	if in.Actions != nil {
		if actions, err = actionsFromWire(in.Actions); err != nil {
			return nil, err
		}
	}
	arn := ptr.Deref(in.RuleArn)
	var result wire.Rule
	err = s.write(ctx, func() (store.Txn, error) {
		if err := s.checkTargetGroups(ctx, actions); err != nil {
			return store.Txn{}, err
		}
		r, rev, err := s.getRule(ctx, arn)
		var nf *wire.RuleNotFoundException
		if errors.As(err, &nf) {
			l, lrev, derr := s.getDefaultRule(ctx, arn)
			if derr != nil {
				return store.Txn{}, derr
			}
			if in.Conditions != nil {
				return store.Txn{}, errOperationNotPermitted("The default rule of a listener cannot have conditions")
			}
			if actions != nil {
				l.DefaultActions = actions
			}
			result = defaultRuleToWire(l)
			key := elb.ListenerKey(l.ID)
			op, err := store.PutJSON(key, l)
			return store.Txn{Compares: []store.Compare{{Key: key, ModRevision: lrev}}, Ops: []store.Op{op}}, err
		}
		if err != nil {
			return store.Txn{}, err
		}
		if in.Conditions != nil {
			if len(conds) == 0 {
				return store.Txn{}, errValidation("A rule must have at least one condition")
			}
			r.Conditions = conds
		}
		if actions != nil {
			r.Actions = actions
		}
		result = ruleToWire(r)
		key := elb.RuleKey(r.ID)
		op, err := store.PutJSON(key, r)
		return store.Txn{Compares: []store.Compare{{Key: key, ModRevision: rev}}, Ops: []store.Op{op}}, err
	})
	if err != nil {
		return nil, err
	}
	return &wire.ModifyRuleOutput{Rules: []wire.Rule{result}}, nil
}

// DeleteRule deletes a rule; a listener's default rule cannot be deleted
// (OperationNotPermitted).
func (s *Service) DeleteRule(ctx context.Context, in *wire.DeleteRuleInput) (*wire.DeleteRuleOutput, error) {
	arn := ptr.Deref(in.RuleArn)
	err := s.write(ctx, func() (store.Txn, error) {
		r, rev, err := s.getRule(ctx, arn)
		var nf *wire.RuleNotFoundException
		if errors.As(err, &nf) {
			if _, _, derr := s.getDefaultRule(ctx, arn); derr == nil {
				return store.Txn{}, errOperationNotPermitted("The default rule of a listener cannot be deleted")
			}
		}
		if err != nil {
			return store.Txn{}, err
		}
		key := elb.RuleKey(r.ID)
		return store.Txn{Compares: []store.Compare{{Key: key, ModRevision: rev}}, Ops: []store.Op{{Key: key, Delete: true}, deleteTags(arn)}}, nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.DeleteRuleOutput{}, nil
}

// SetRulePriorities changes the priorities of rules at once; afterwards
// no two rules of a listener may share one (PriorityInUse).
func (s *Service) SetRulePriorities(ctx context.Context, in *wire.SetRulePrioritiesInput) (*wire.SetRulePrioritiesOutput, error) {
	var changed []*elb.RuleRecord
	err := s.write(ctx, func() (store.Txn, error) {
		changed = changed[:0]
		items, err := list[elb.RuleRecord](ctx, s.store, elb.RulesPrefix)
		if err != nil {
			return store.Txn{}, err
		}
		byARN := map[string]*store.Item[elb.RuleRecord]{}
		for i := range items {
			byARN[items[i].Value.ARN] = &items[i]
		}
		var txn store.Txn
		for _, p := range in.RulePriorities {
			arn := ptr.Deref(p.RuleArn)
			it := byARN[arn]
			if it == nil {
				if _, _, derr := s.getDefaultRule(ctx, arn); derr == nil {
					return store.Txn{}, errOperationNotPermitted("The priority of a default rule cannot be changed")
				}
				return store.Txn{}, errRuleNotFound()
			}
			it.Value.Priority = int(ptr.Deref(p.Priority))
			op, err := store.PutJSON(it.Key, it.Value)
			if err != nil {
				return store.Txn{}, err
			}
			txn.Compares = append(txn.Compares, store.Compare{Key: it.Key, ModRevision: it.ModRevision})
			txn.Ops = append(txn.Ops, op)
			changed = append(changed, &it.Value)
		}
		seen := map[string]bool{}
		for _, it := range items {
			k := it.Value.ListenerARN + "#" + strconv.Itoa(it.Value.Priority)
			if seen[k] {
				return store.Txn{}, errPriorityInUse(it.Value.Priority)
			}
			seen[k] = true
		}
		return txn, nil
	})
	if err != nil {
		return nil, err
	}
	out := &wire.SetRulePrioritiesOutput{Rules: []wire.Rule{}}
	for _, r := range changed {
		out.Rules = append(out.Rules, ruleToWire(r))
	}
	return out, nil
}

func ruleToWire(r *elb.RuleRecord) wire.Rule {
	return wire.Rule{
		RuleArn:    ptr.To(r.ARN),
		Priority:   ptr.To(strconv.Itoa(r.Priority)),
		IsDefault:  ptr.To(false),
		Conditions: conditionsToWire(r.Conditions),
		Actions:    actionsToWire(r.Actions),
	}
}

func defaultRuleToWire(l *elb.ListenerRecord) wire.Rule {
	return wire.Rule{
		RuleArn:    ptr.To(defaultRuleARN(l)),
		Priority:   ptr.To("default"),
		IsDefault:  ptr.To(true),
		Conditions: []wire.RuleCondition{},
		Actions:    actionsToWire(l.DefaultActions),
	}
}
