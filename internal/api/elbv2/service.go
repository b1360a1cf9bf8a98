// Package elbv2 serves the Application Load Balancer part of Elastic Load
// Balancing v2's query API (2015-12-01) over Flotilla's state store: load
// balancers, target groups and their targets, listeners and rules. Each
// handler validates its input, does one store transaction, and returns.
// The records, their keys, the rules that are not the wire's and
// BuildConfig are package internal/elb's; wire types come from the
// generated internal/model/elbv2 package.
package elbv2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/lb"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/store"
)

// Config is what the ELBv2 service needs.
type Config struct {
	Store     store.Store
	Region    string
	AccountID string
	// Clock returns the current time; time.Now when nil.
	Clock func() time.Time
	// Health returns the health of the targets of a group as the data
	// plane sees them, draining targets included (lb.Server.Health, or
	// the merged reports of the data plane nodes). When nil, registered
	// targets are reported initial.
	Health func(ctx context.Context, targetGroupARN string) ([]lb.TargetHealth, error)
	// ListenerErrors returns the listeners that a data plane node could
	// not open (the port taken on its host, say), with why, by listener
	// ARN: their load balancers are reported active_impaired with the
	// reasons. When nil, every load balancer is reported active.
	ListenerErrors func(ctx context.Context) (map[string]string, error)
	// ReservedPorts are the ports Flotilla itself listens on (its API's),
	// with what listens there: no listener may take one.
	ReservedPorts map[int]string
	// Logger is where ClaimPorts warns; slog.Default() when nil.
	Logger *slog.Logger
}

// Service implements the ELBv2 operations.
type Service struct {
	store  store.Store
	region string
	acct   string
	now    func() time.Time
	health func(context.Context, string) ([]lb.TargetHealth, error)
	// listenerErrors and reservedPorts are Config's.
	listenerErrors func(context.Context) (map[string]string, error)
	reservedPorts  map[int]string
	log            *slog.Logger
	// mu serializes this process's writes, so that checks across records
	// (a target group no rule uses) hold when the transaction commits; the
	// transactions' comparisons catch writes of other processes to the
	// records read. Names of load balancers and target groups (their
	// keys) and listener ports (claimPort) are unique by the comparisons
	// alone, whatever the processes.
	mu sync.Mutex
}

// New returns the ELBv2 service over cfg.Store.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, region: cfg.Region, acct: cfg.AccountID, now: cfg.Clock, health: cfg.Health,
		listenerErrors: cfg.ListenerErrors, reservedPorts: cfg.ReservedPorts, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "elbv2")
	if s.now == nil {
		s.now = time.Now
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.acct == "" {
		s.acct = "000000000000"
	}
	return s
}

// QueryService returns the operation table to register with the API server.
func (s *Service) QueryService() api.QueryService {
	return api.QueryService{
		SigningName:  wire.SigningName,
		Version:      wire.APIVersion,
		XMLNamespace: wire.XMLNamespace,
		Refused:      refused,
		Operations: map[string]api.QueryOperation{
			"CreateLoadBalancer":             api.Query(s.CreateLoadBalancer),
			"DescribeLoadBalancers":          api.Query(s.DescribeLoadBalancers),
			"DeleteLoadBalancer":             api.Query(s.DeleteLoadBalancer),
			"DescribeLoadBalancerAttributes": api.Query(s.DescribeLoadBalancerAttributes),
			"ModifyLoadBalancerAttributes":   api.Query(s.ModifyLoadBalancerAttributes),
			"CreateTargetGroup":              api.Query(s.CreateTargetGroup),
			"DescribeTargetGroups":           api.Query(s.DescribeTargetGroups),
			"ModifyTargetGroup":              api.Query(s.ModifyTargetGroup),
			"DeleteTargetGroup":              api.Query(s.DeleteTargetGroup),
			"DescribeTargetGroupAttributes":  api.Query(s.DescribeTargetGroupAttributes),
			"ModifyTargetGroupAttributes":    api.Query(s.ModifyTargetGroupAttributes),
			"RegisterTargets":                api.Query(s.RegisterTargets),
			"DeregisterTargets":              api.Query(s.DeregisterTargets),
			"DescribeTargetHealth":           api.Query(s.DescribeTargetHealth),
			"CreateListener":                 api.Query(s.CreateListener),
			"DescribeListeners":              api.Query(s.DescribeListeners),
			"ModifyListener":                 api.Query(s.ModifyListener),
			"DeleteListener":                 api.Query(s.DeleteListener),
			"AddListenerCertificates":        api.Query(s.AddListenerCertificates),
			"RemoveListenerCertificates":     api.Query(s.RemoveListenerCertificates),
			"DescribeListenerCertificates":   api.Query(s.DescribeListenerCertificates),
			"DescribeSSLPolicies":            api.Query(s.DescribeSSLPolicies),
			"CreateRule":                     api.Query(s.CreateRule),
			"DescribeRules":                  api.Query(s.DescribeRules),
			"ModifyRule":                     api.Query(s.ModifyRule),
			"DeleteRule":                     api.Query(s.DeleteRule),
			"SetRulePriorities":              api.Query(s.SetRulePriorities),
			"AddTags":                        api.Query(s.AddTags),
			"RemoveTags":                     api.Query(s.RemoveTags),
			"DescribeTags":                   api.Query(s.DescribeTags),
		},
		MapError: mapError,
	}
}

// mapError is the service's error table for errors that are not already
// the model's: the store's conflicts after every retry answer as ELBv2
// answers a concurrent change.
func mapError(err error) *api.Error {
	if errors.Is(err, store.ErrConflict) {
		return &api.Error{Code: "PriorRequestNotComplete", Message: "A concurrent request changed the resource; retry the request.", Status: 429}
	}
	return nil
}

// write runs a transaction built by build, as one writer of this process,
// and builds it again when a comparison failed. build reads what it needs
// and returns the transaction; it must have no other side effects.
func (s *Service) write(ctx context.Context, build func() (store.Txn, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range store.UpdateAttempts {
		txn, err := build()
		if err != nil {
			return err
		}
		_, err = s.store.Txn(ctx, txn)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("elbv2: %d attempts: %w", store.UpdateAttempts, store.ErrConflict)
}

// newID returns 16 random hex digits, the last part of ELBv2's ARNs.
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// arn returns an ELBv2 ARN with the given resource part.
func (s *Service) arn(resource string) string {
	return flotilla.Account{Region: s.region, ID: s.acct}.ARNOf("elasticloadbalancing", resource)
}
