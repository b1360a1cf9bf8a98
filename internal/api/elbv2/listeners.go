package elbv2

import (
	"context"
	"errors"
	"strings"

	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// CreateListener adds an HTTP or HTTPS listener to a load balancer, on a
// port no other listener of it uses (DuplicateListener otherwise). An HTTPS
// listener presents a certificate imported into ACM.
func (s *Service) CreateListener(ctx context.Context, in *wire.CreateListenerInput) (*wire.CreateListenerOutput, error) {
	proto := in.Protocol
	if proto == "" {
		proto = wire.ProtocolEnumHttp
	}
	if in.Port == nil {
		return nil, errValidation("A listener port must be specified")
	}
	tlsSet, err := s.listenerTLS(ctx, proto, nil, listenerTLSInput{in.Certificates, in.SslPolicy, in.AlpnPolicy, in.MutualAuthentication})
	if err != nil {
		return nil, err
	}
	actions, err := actionsFromWire(in.DefaultActions)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFromWire(in.Tags)
	if err != nil {
		return nil, err
	}
	lbARN := ptr.Deref(in.LoadBalancerArn)
	var rec elb.ListenerRecord
	err = s.write(ctx, func() (store.Txn, error) {
		lbRec, lbRev, err := s.getLoadBalancer(ctx, lbARN)
		if err != nil {
			return store.Txn{}, err
		}
		if err := s.checkTargetGroups(ctx, actions); err != nil {
			return store.Txn{}, err
		}
		id := newID()
		base := "app/" + lbRec.Name + "/" + lbRec.ID + "/" + id
		rec = elb.ListenerRecord{
			Listener: lb.Listener{
				ARN:             s.arn("listener/" + base),
				LoadBalancerARN: lbARN,
				Port:            int(*in.Port),
				Protocol:        string(proto),
				Certificates:    tlsSet.certs,
				SSLPolicy:       tlsSet.policy,
				DefaultActions:  actions,
			},
			ID:            id,
			DefaultRuleID: newID(),
		}
		tagOps, err := putTags(rec.ARN, tags)
		if err != nil {
			return store.Txn{}, err
		}
		portCmps, portOps, err := s.claimPort(ctx, &rec, 0)
		if err != nil {
			return store.Txn{}, err
		}
		cmps := append([]store.Compare{{Key: elb.LoadBalancerKey(lbRec.Name), ModRevision: lbRev}, {Key: elb.ListenerKey(id)}}, portCmps...)
		return s.listenerTxn(ctx, &rec, cmps, append(tagOps, portOps...)...)
	})
	if err != nil {
		return nil, err
	}
	return &wire.CreateListenerOutput{Listeners: []wire.Listener{listenerToWire(&rec)}}, nil
}

// checkTargetGroups checks that the target groups the actions forward to
// exist: TargetGroupNotFound otherwise.
func (s *Service) checkTargetGroups(ctx context.Context, actions []lb.Action) error {
	for _, arn := range elb.TargetGroupsOf(actions) {
		if _, _, err := s.getTargetGroup(ctx, arn); err != nil {
			return err
		}
	}
	return nil
}

// ModifyListener changes the port, the protocol (HTTP or HTTPS), the
// default certificate, the security policy or the default actions of a
// listener; what is left out stays. A port that another listener of the
// load balancer uses is DuplicateListener. The data plane moves the
// listener to its new port with its next configuration.
func (s *Service) ModifyListener(ctx context.Context, in *wire.ModifyListenerInput) (*wire.ModifyListenerOutput, error) {
	var actions []lb.Action
	if in.DefaultActions != nil {
		var err error
		if actions, err = actionsFromWire(in.DefaultActions); err != nil {
			return nil, err
		}
	}
	arn := ptr.Deref(in.ListenerArn)
	var rec *elb.ListenerRecord
	err := s.write(ctx, func() (store.Txn, error) {
		var rev int64
		var err error
		if rec, rev, err = s.getListener(ctx, arn); err != nil {
			return store.Txn{}, err
		}
		lbRec, lbRev, err := s.getLoadBalancer(ctx, rec.LoadBalancerARN)
		if err != nil {
			return store.Txn{}, err
		}
		if err := s.checkTargetGroups(ctx, actions); err != nil {
			return store.Txn{}, err
		}
		var portOps []store.Op
		held := rec.Port
		if in.Port != nil && int(*in.Port) != rec.Port {
			if portOps, err = s.releasePort(ctx, rec); err != nil {
				return store.Txn{}, err
			}
			rec.Port = int(*in.Port)
		}
		// The port claimed, or kept: a listener of before the claims
		// claims its port now.
		portCmps, claimOps, err := s.claimPort(ctx, rec, held)
		if err != nil {
			return store.Txn{}, err
		}
		portOps = append(portOps, claimOps...)
		proto := wire.ProtocolEnum(rec.Protocol)
		if in.Protocol != "" {
			proto = in.Protocol
		}
		tlsSet, err := s.listenerTLS(ctx, proto, rec, listenerTLSInput{in.Certificates, in.SslPolicy, in.AlpnPolicy, in.MutualAuthentication})
		if err != nil {
			return store.Txn{}, err
		}
		rec.Protocol, rec.Certificates, rec.SSLPolicy = string(proto), tlsSet.certs, tlsSet.policy
		if actions != nil {
			rec.DefaultActions = actions
		}
		cmps := append([]store.Compare{{Key: elb.ListenerKey(rec.ID), ModRevision: rev}, {Key: elb.LoadBalancerKey(lbRec.Name), ModRevision: lbRev}}, portCmps...)
		return s.listenerTxn(ctx, rec, cmps, portOps...)
	})
	if err != nil {
		return nil, err
	}
	return &wire.ModifyListenerOutput{Listeners: []wire.Listener{listenerToWire(rec)}}, nil
}

// DescribeListeners describes the listeners of a load balancer, by port,
// or those named by ARN, in the request's order, a page at a time.
func (s *Service) DescribeListeners(ctx context.Context, in *wire.DescribeListenersInput) (*wire.DescribeListenersOutput, error) {
	var all []keyed[*elb.ListenerRecord]
	switch {
	case in.LoadBalancerArn != nil && len(in.ListenerArns) > 0:
		return nil, errValidation("Listener ARNs and a load balancer ARN cannot be specified at the same time")
	case in.LoadBalancerArn != nil:
		if _, _, err := s.getLoadBalancer(ctx, *in.LoadBalancerArn); err != nil {
			return nil, err
		}
		items, err := list[elb.ListenerRecord](ctx, s.store, elb.ListenersPrefix)
		if err != nil {
			return nil, err
		}
		for i := range items {
			if l := &items[i].Value; l.LoadBalancerARN == *in.LoadBalancerArn {
				all = append(all, keyed[*elb.ListenerRecord]{numberKey(l.Port), l})
			}
		}
	case len(in.ListenerArns) > 0:
		for i, arn := range in.ListenerArns {
			rec, _, err := s.getListener(ctx, arn)
			if err != nil {
				return nil, err
			}
			all = append(all, keyed[*elb.ListenerRecord]{numberKey(i), rec})
		}
	default:
		return nil, errValidation("A load balancer ARN or listener ARNs must be specified")
	}
	recs, next, err := page(all, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &wire.DescribeListenersOutput{Listeners: []wire.Listener{}, NextMarker: next}
	for _, r := range recs {
		out.Listeners = append(out.Listeners, listenerToWire(r))
	}
	return out, nil
}

// DeleteListener deletes a listener with its rules.
func (s *Service) DeleteListener(ctx context.Context, in *wire.DeleteListenerInput) (*wire.DeleteListenerOutput, error) {
	arn := ptr.Deref(in.ListenerArn)
	err := s.write(ctx, func() (store.Txn, error) {
		rec, rev, err := s.getListener(ctx, arn)
		if err != nil {
			return store.Txn{}, err
		}
		key := elb.ListenerKey(rec.ID)
		txn := store.Txn{Compares: []store.Compare{{Key: key, ModRevision: rev}}, Ops: []store.Op{{Key: key, Delete: true}, deleteTags(arn), deleteTags(defaultRuleARN(rec))}}
		portOps, err := s.releasePort(ctx, rec)
		if err != nil {
			return store.Txn{}, err
		}
		txn.Ops = append(txn.Ops, portOps...)
		rules, err := list[elb.RuleRecord](ctx, s.store, elb.RulesPrefix)
		if err != nil {
			return store.Txn{}, err
		}
		for _, r := range rules {
			if r.Value.ListenerARN == arn {
				txn.Ops = append(txn.Ops, store.Op{Key: r.Key, Delete: true}, deleteTags(r.Value.ARN))
			}
		}
		return txn, nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.DeleteListenerOutput{}, nil
}

func listenerToWire(r *elb.ListenerRecord) wire.Listener {
	return wire.Listener{
		ListenerArn:     ptr.To(r.ARN),
		LoadBalancerArn: ptr.To(r.LoadBalancerARN),
		Port:            ptr.To(int32(r.Port)),
		Protocol:        wire.ProtocolEnum(r.Protocol),
		Certificates:    defaultCertificateToWire(r.Certificates),
		SslPolicy:       optional(r.SSLPolicy),
		DefaultActions:  actionsToWire(r.DefaultActions),
	}
}

// defaultRuleARN returns the ARN of a listener's default rule.
func defaultRuleARN(l *elb.ListenerRecord) string {
	return strings.Replace(l.ARN, ":listener/", ":listener-rule/", 1) + "/" + l.DefaultRuleID
}

// getDefaultRule returns the listener whose default rule is arn, or
// RuleNotFound.
func (s *Service) getDefaultRule(ctx context.Context, arn string) (*elb.ListenerRecord, int64, error) {
	i := strings.LastIndexByte(arn, '/')
	if i < 0 || !strings.Contains(arn, ":listener-rule/app/") {
		return nil, 0, errRuleNotFound()
	}
	l, rev, err := s.getListener(ctx, strings.Replace(arn[:i], ":listener-rule/", ":listener/", 1))
	var nf *wire.ListenerNotFoundException
	if errors.As(err, &nf) || (err == nil && defaultRuleARN(l) != arn) {
		return nil, 0, errRuleNotFound()
	}
	return l, rev, err
}
