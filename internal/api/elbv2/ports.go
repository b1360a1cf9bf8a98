package elbv2

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// prefixPort holds the claims of listener ports, at prefixPort + port,
// each the ARN of the listener that holds the port. A listener that takes
// a port claims it in the transaction that writes it, compared absent (or
// held by a listener that is gone): two servers over one store cannot
// both give a port away, whatever their processes. Listeners written
// before claims existed hold their ports without one; checkPortFree finds
// them, and their next write claims their port.
const prefixPort = prefix + "ports/"

func portKey(port int) string { return prefixPort + strconv.Itoa(port) }

// claimPort returns what a transaction writing listener rec (on rec.Port)
// must hold and write so that no other listener holds the port:
// DuplicateListener when one does, InvalidConfigurationRequest when
// Flotilla itself uses the port. rec may exist already (ModifyListener):
// its own claim holds.
func (s *Service) claimPort(ctx context.Context, rec *listenerRecord) ([]store.Compare, []store.Op, error) {
	if what, ok := s.reservedPorts[rec.Port]; ok {
		return nil, nil, errInvalidConfig("Port %d is used by Flotilla's %s", rec.Port, what)
	}
	if err := s.checkPortFree(ctx, rec.LoadBalancerARN, rec.Port, rec.ARN); err != nil {
		return nil, nil, err
	}
	key := portKey(rec.Port)
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
			cmps = append(cmps, store.Compare{Key: prefixListener + id})
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
func (s *Service) releasePort(ctx context.Context, rec *listenerRecord) ([]store.Op, error) {
	key := portKey(rec.Port)
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
	listeners, err := list[listenerRecord](ctx, s.store, prefixListener)
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
func duplicateListener(lbARN string, other *listenerRecord) error {
	if other.LoadBalancerARN == lbARN {
		return errDuplicateListener()
	}
	return &wire.DuplicateListenerException{Message: ptr.To(fmt.Sprintf(
		"Port %d is already used by a listener of load balancer %s; Flotilla's load balancers share one address", other.Port, other.LoadBalancerARN))}
}
