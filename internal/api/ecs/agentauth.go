package ecs

import (
	"context"
	"errors"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/store"
)

// Instance credentials. Every registered container instance gets its own key
// pair, sent to its agent over the link. The server accepts it only for the
// operations an agent needs, and only on that instance and its tasks (as an
// ECS agent acts with its instance's identity).
const instanceKeyPrefix = "FLTI"

// agentOperations are the operations instance credentials may call.
var agentOperations = map[string]bool{
	"RegisterContainerInstance":  true,
	"DiscoverPollEndpoint":       true,
	"SubmitTaskStateChange":      true,
	"SubmitContainerStateChange": true,
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

// SecretAccessKey looks up the secret of instance credentials; it answers
// the API server's credentials lookup for keys it issued.
func (s *Service) SecretAccessKey(ctx context.Context, accessKeyID string) (string, error) {
	if !strings.HasPrefix(accessKeyID, instanceKeyPrefix) {
		return "", errNotInstanceKey
	}
	k, _, err := store.GetJSON[instanceKey](ctx, s.store, instanceKeyKey(accessKeyID))
	if errors.Is(err, store.ErrNotFound) {
		return "", errNotInstanceKey
	}
	if err != nil {
		return "", err
	}
	return k.SecretAccessKey, nil
}

var errNotInstanceKey = sigv4.ErrUnknownAccessKey

// callerInstance returns the instance whose credentials signed the request,
// or nil for account credentials.
func (s *Service) callerInstance(ctx context.Context) (*instanceKey, error) {
	akid := api.AccessKeyID(ctx)
	if !strings.HasPrefix(akid, instanceKeyPrefix) {
		return nil, nil
	}
	k, _, err := store.GetJSON[instanceKey](ctx, s.store, instanceKeyKey(akid))
	if err != nil {
		return nil, flotilla.Errorf(flotilla.EAccessDenied, "The instance credentials %s are no longer valid.", akid)
	}
	return k, nil
}

// authorize refuses operations that instance credentials may not call.
func (s *Service) authorize(ctx context.Context, op string) error {
	k, err := s.callerInstance(ctx)
	if err != nil || k == nil {
		return err
	}
	if !agentOperations[op] {
		return flotilla.Errorf(flotilla.EAccessDenied, "User: %s is not authorized to perform: ecs:%s", s.acct.ContainerInstanceARN(k.Cluster, k.InstanceID), op)
	}
	return nil
}

// authorizeInstance refuses instance credentials acting on another instance.
func (s *Service) authorizeInstance(ctx context.Context, cluster, instanceID string) error {
	k, err := s.callerInstance(ctx)
	if err != nil || k == nil {
		return err
	}
	if k.Cluster != cluster || k.InstanceID != instanceID {
		return flotilla.Errorf(flotilla.EAccessDenied, "User: %s is not authorized to act on container instance %s",
			s.acct.ContainerInstanceARN(k.Cluster, k.InstanceID), s.acct.ContainerInstanceARN(cluster, instanceID))
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

// guard wraps an operation's handler with the check that instance
// credentials may call it.
func guard[I, O any](s *Service, op string, h func(context.Context, *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		if err := s.authorize(ctx, op); err != nil {
			return nil, err
		}
		return h(ctx, in)
	}
}
