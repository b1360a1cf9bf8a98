package elbv2

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flotilla/flotilla/internal/elb"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// The claims of listener ports are at elb.PortKey(port), each the ARN of
// the listener that holds the port. A listener that takes a port claims it
// in the transaction that writes it, compared absent (or held by a
// listener that is gone): two servers over one store cannot both give a
// port away, whatever their processes. Listeners written before claims
// existed hold their ports without one; checkPortFree finds them, and
// their next write claims their port (or ClaimPorts, at start).
//
// Every region's load balancers listen on the same nodes' address, so
// that the claims are those of every region: a server of several regions
// gives each region's Service a store in which the keys under
// PortClaimsPrefix are shared (store.WithPrefixSharing), and a claim held
// by a listener of another region is that listener's.

// PortClaimsPrefix is the prefix of the keys of the claims of listener
// ports, which must be the same for the Services of every region over one
// store.
const PortClaimsPrefix = elb.PortsPrefix

// claimPort returns what a transaction writing listener rec (on rec.Port)
// must hold and write so that no other listener holds the port:
// DuplicateListener when one does, InvalidConfigurationRequest when
// Flotilla itself uses the port, unless rec already held it (held, its
// port before the write, 0 for a new listener): a listener written before
// Flotilla reserved its port keeps it. rec may exist already
// (ModifyListener): its own claim holds.
func (s *Service) claimPort(ctx context.Context, rec *elb.ListenerRecord, held int) ([]store.Compare, []store.Op, error) {
	if what, ok := s.reservedPorts[rec.Port]; ok && rec.Port != held {
		return nil, nil, errInvalidConfig("Port %d is used by Flotilla's %s", rec.Port, what)
	}
	if err := s.checkPortFree(ctx, rec.LoadBalancerARN, rec.Port, rec.ARN); err != nil {
		return nil, nil, err
	}
	key := elb.PortKey(rec.Port)
	holder, rev, err := store.GetJSON[string](ctx, s.store, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		rev = 0
	case err != nil:
		return nil, nil, err
	case *holder == rec.ARN:
		return []store.Compare{{Key: key, ModRevision: rev}}, nil, nil
	}
	cmps := []store.Compare{{Key: key, ModRevision: rev}}
	if holder != nil && *holder != rec.ARN {
		if !strings.HasPrefix(*holder, s.arn("listener/")) {
			// A listener of another region (or account), whose records
			// this Service cannot read.
			return nil, nil, &wire.DuplicateListenerException{Message: ptr.To(fmt.Sprintf(
				"Port %d is already used by listener %s; Flotilla's load balancers share one address in every region", rec.Port, *holder))}
		}
		// Held by a listener written since checkPortFree read, or by one
		// that is gone, whose claim is taken over if it still is.
		other, _, err := s.getListener(ctx, *holder)
		var nf *wire.ListenerNotFoundException
		switch {
		case err == nil:
			return nil, nil, duplicateListener(rec.LoadBalancerARN, other)
		case !errors.As(err, &nf):
			return nil, nil, err
		}
		if id := lastPart(*holder); id != "" {
			cmps = append(cmps, store.Compare{Key: elb.ListenerKey(id)})
		}
	}
	op, err := store.PutJSON(key, rec.ARN)
	if err != nil {
		return nil, nil, err
	}
	return cmps, []store.Op{op}, nil
}

// releasePort returns the op that deletes the claim of listener rec's
// port, none when rec holds no claim (written before claims existed).
func (s *Service) releasePort(ctx context.Context, rec *elb.ListenerRecord) ([]store.Op, error) {
	key := elb.PortKey(rec.Port)
	holder, _, err := store.GetJSON[string](ctx, s.store, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case *holder != rec.ARN:
		return nil, nil
	}
	return []store.Op{{Key: key, Delete: true}}, nil
}

// checkPortFree checks that no listener other than the listener except
// uses port: DuplicateListener otherwise. Unlike ELBv2, whose load
// balancers each have their own addresses, every load balancer here
// listens on the data plane nodes' one bind address, so a port is taken
// across all of them; letting two claim it would make the nodes refuse the
// whole configuration.
func (s *Service) checkPortFree(ctx context.Context, lbARN string, port int, except string) error {
	listeners, err := list[elb.ListenerRecord](ctx, s.store, elb.ListenersPrefix)
	if err != nil {
		return err
	}
	for _, l := range listeners {
		if l.Value.Port != port || l.Value.ARN == except {
			continue
		}
		return duplicateListener(lbARN, &l.Value)
	}
	return nil
}

// duplicateListener is the DuplicateListener error of a port that listener
// other holds, to a listener of load balancer lbARN.
func duplicateListener(lbARN string, other *elb.ListenerRecord) error {
	if other.LoadBalancerARN == lbARN {
		return errDuplicateListener()
	}
	return &wire.DuplicateListenerException{Message: ptr.To(fmt.Sprintf(
		"Port %d is already used by a listener of load balancer %s; Flotilla's load balancers share one address", other.Port, other.LoadBalancerARN))}
}

// errClaimed ends ClaimPorts' write of a listener that holds its claim.
var errClaimed = errors.New("port claimed")

// ClaimPorts claims the ports of the stored listeners that hold no claim
// in the key space every region shares (written before claims existed, or
// before they were shared), so that the listeners of every region find
// them, and warns of the listeners that cannot have their port: one
// another listener holds, or one Flotilla itself listens on, which the
// data plane cannot open. The server runs it at start, before it serves.
func (s *Service) ClaimPorts(ctx context.Context) error {
	listeners, err := list[elb.ListenerRecord](ctx, s.store, elb.ListenersPrefix)
	if err != nil {
		return fmt.Errorf("claim listener ports: %w", err)
	}
	for _, l := range listeners {
		if what, ok := s.reservedPorts[l.Value.Port]; ok {
			s.log.Warn("listener is on a port Flotilla listens on and cannot open; move it with ModifyListener",
				"listener", l.Value.ARN, "port", l.Value.Port, "used_by", what)
		}
		err := s.write(ctx, func() (store.Txn, error) {
			rec, rev, err := s.getListener(ctx, l.Value.ARN)
			if err != nil {
				return store.Txn{}, err
			}
			cmps, ops, err := s.claimPort(ctx, rec, rec.Port)
			if err != nil {
				return store.Txn{}, err
			}
			if len(ops) == 0 {
				return store.Txn{}, errClaimed
			}
			return store.Txn{Compares: append(cmps, store.Compare{Key: elb.ListenerKey(rec.ID), ModRevision: rev}), Ops: ops}, nil
		})
		var nf *wire.ListenerNotFoundException
		var dup *wire.DuplicateListenerException
		switch {
		case err == nil, errors.Is(err, errClaimed), errors.As(err, &nf):
		case errors.As(err, &dup):
			s.log.Warn("listener shares its port with another and cannot open; move it with ModifyListener",
				"listener", l.Value.ARN, "port", l.Value.Port, "reason", ptr.Deref(dup.Message))
		default:
			return fmt.Errorf("claim port %d of listener %s: %w", l.Value.Port, l.Value.ARN, err)
		}
	}
	return nil
}
