package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/store"
)

// Instance credentials. Every registered container instance gets its own key
// pair, sent to its agent over the link. The API server derives the
// principal of every request (Principal answers it for these keys) and lets
// instance principals call only the operations an agent needs
// (agentOperations, the service's Permit) and the link; the handlers keep
// them to their own instance and its tasks (as an ECS agent acts with its
// instance's identity).
const instanceKeyPrefix = "FLTI"

// agentOperations are the operations instance credentials may call.
var agentOperations = []string{
	"RegisterContainerInstance",
	"DiscoverPollEndpoint",
	"SubmitTaskStateChange",
	"SubmitContainerStateChange",
}

// instanceKey is the store record of an instance's credentials.
type instanceKey struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	Cluster         string `json:"cluster"`
	InstanceID      string `json:"instanceId"`
}

// InstanceKeyPrefix is the store prefix of the instances' credentials, one
// record per access key id: key material, to be sealed at rest.
const InstanceKeyPrefix = "/ecs/instancekeys/"

func instanceKeyKey(akid string) string { return InstanceKeyPrefix + akid }

// lookupInstanceKey returns the record of instance credentials, or an error
// wrapping sigv4.ErrUnknownAccessKey for a key the service did not issue.
func (s *Service) lookupInstanceKey(ctx context.Context, accessKeyID string) (instanceKey, error) {
	if !strings.HasPrefix(accessKeyID, instanceKeyPrefix) {
		return instanceKey{}, errNotInstanceKey
	}
	k, _, err := store.GetJSON[instanceKey](ctx, s.store, instanceKeyKey(accessKeyID))
	if errors.Is(err, store.ErrNotFound) {
		return instanceKey{}, errNotInstanceKey
	}
	if err != nil {
		return instanceKey{}, fmt.Errorf("look up instance credentials: %w", err)
	}
	return *k, nil
}

// SecretAccessKey looks up the secret of instance credentials; it answers
// the API server's credentials lookup for keys it issued.
func (s *Service) SecretAccessKey(ctx context.Context, accessKeyID string) (string, error) {
	k, err := s.lookupInstanceKey(ctx, accessKeyID)
	if err != nil {
		return "", err
	}
	return k.SecretAccessKey, nil
}

// Principal implements api.Principals for the keys the service issued: an
// api.Instance principal named by its container instance's ARN.
func (s *Service) Principal(ctx context.Context, accessKeyID string) (api.Principal, error) {
	k, err := s.lookupInstanceKey(ctx, accessKeyID)
	if err != nil {
		return api.Principal{}, err
	}
	return api.Principal{Kind: api.Instance, ARN: s.acct.ContainerInstanceARN(k.Cluster, k.InstanceID)}, nil
}

var errNotInstanceKey = sigv4.ErrUnknownAccessKey

// callerInstance returns the ARN of the instance whose credentials signed
// the request, or "" for any other principal.
func callerInstance(ctx context.Context) string {
	if p := api.CallerPrincipal(ctx); p.Kind == api.Instance {
		return p.ARN
	}
	return ""
}

// authorizeInstance refuses instance credentials acting on another instance.
func (s *Service) authorizeInstance(ctx context.Context, cluster, instanceID string) error {
	caller := callerInstance(ctx)
	if caller == "" {
		return nil
	}
	if target := s.acct.ContainerInstanceARN(cluster, instanceID); caller != target {
		return flotilla.Errorf(flotilla.EAccessDenied, "User: %s is not authorized to act on container instance %s", caller, target)
	}
	return nil
}

// issueInstanceKey returns the store ops that give an instance its
// credentials, and the credentials.
func issueInstanceKey(cluster, instanceID string) (instanceKey, store.Op) {
	k := instanceKey{Cluster: cluster, InstanceID: instanceID}
	k.AccessKeyID, k.SecretAccessKey = flotilla.NewAccessKey(instanceKeyPrefix)
	return k, putJSON(instanceKeyKey(k.AccessKeyID), k)
}
