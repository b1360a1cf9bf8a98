// Package ecs serves Amazon ECS's JSON 1.1 API (AmazonEC2ContainerServiceV20141113)
// over Flotilla's state store: each handler validates its input, does one
// store transaction, and returns. Wire types come from the generated
// internal/model/ecs package; domain records from the root package.
package ecs

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/store"
)

// Config is what the ECS service needs.
type Config struct {
	Store   store.Store
	Account flotilla.Account
	// Clock returns the current time; time.Now when nil.
	Clock  func() time.Time
	Logger *slog.Logger
	// Endpoint is the URL agents reach this server at (DiscoverPollEndpoint).
	Endpoint string
	// TargetGroupLoadBalancers returns the load balancers forwarding to a
	// target group, or an error when there is no such group; services'
	// loadBalancers are checked with it. When nil, services may not have
	// load balancers.
	TargetGroupLoadBalancers func(ctx context.Context, arn string) ([]string, error)
	// Placer is what RunTask, StartTask and the services' tasks are placed
	// through, over Store; whoever makes it runs it (its Run), a component
	// of its own. When nil, New makes one that nobody runs: operations
	// that place tasks then wait until their context ends.
	Placer *scheduler.Placer
}

// Service implements the ECS operations.
type Service struct {
	store    store.Store
	acct     flotilla.Account
	now      func() time.Time
	log      *slog.Logger
	endpoint string
	server   string // this server process's id, in the agent links it holds
	links    links
	defs     sync.Map // task definition ARN → json.RawMessage
	reads    readCaches
	placer   *scheduler.Placer
	tgLBs    func(ctx context.Context, arn string) ([]string, error)
}

// New returns the ECS service over cfg.Store.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, acct: cfg.Account, now: cfg.Clock, log: cfg.Logger, endpoint: cfg.Endpoint, tgLBs: cfg.TargetGroupLoadBalancers,
		links: links{conns: map[string]*linkConn{}}, server: flotilla.NewID()[:16]}
	s.placer = cfg.Placer
	if s.placer == nil {
		s.placer = scheduler.NewPlacer(cfg.Store, cfg.Logger)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "ecs")
	return s
}

// JSONService returns the operation table to register with the API server.
// Operations of the ECS model that Flotilla does not serve yet answer
// UnsupportedFeatureException.
func (s *Service) JSONService() api.JSONService {
	ops := map[string]api.Operation{
		// clusters
		"CreateCluster":               api.JSON(s.CreateCluster),
		"DescribeClusters":            api.JSON(s.DescribeClusters),
		"ListClusters":                api.JSON(s.ListClusters),
		"UpdateCluster":               api.JSON(s.UpdateCluster),
		"UpdateClusterSettings":       api.JSON(s.UpdateClusterSettings),
		"PutClusterCapacityProviders": api.JSON(s.PutClusterCapacityProviders),
		"DeleteCluster":               api.JSON(s.DeleteCluster),
		// task definitions
		"RegisterTaskDefinition":     api.JSON(s.RegisterTaskDefinition),
		"DescribeTaskDefinition":     api.JSON(s.DescribeTaskDefinition),
		"ListTaskDefinitions":        api.JSON(s.ListTaskDefinitions),
		"ListTaskDefinitionFamilies": api.JSON(s.ListTaskDefinitionFamilies),
		"DeregisterTaskDefinition":   api.JSON(s.DeregisterTaskDefinition),
		"DeleteTaskDefinitions":      api.JSON(s.DeleteTaskDefinitions),
		// container instances
		"RegisterContainerInstance":     api.JSON(s.RegisterContainerInstance),
		"DeregisterContainerInstance":   api.JSON(s.DeregisterContainerInstance),
		"DescribeContainerInstances":    api.JSON(s.DescribeContainerInstances),
		"ListContainerInstances":        api.JSON(s.ListContainerInstances),
		"UpdateContainerInstancesState": api.JSON(s.UpdateContainerInstancesState),
		// tasks
		"RunTask":                    api.JSON(s.RunTask),
		"StartTask":                  api.JSON(s.StartTask),
		"StopTask":                   api.JSON(s.StopTask),
		"DescribeTasks":              api.JSON(s.DescribeTasks),
		"ListTasks":                  api.JSON(s.ListTasks),
		"SubmitTaskStateChange":      api.JSON(s.SubmitTaskStateChange),
		"SubmitContainerStateChange": api.JSON(s.SubmitContainerStateChange),
		"DiscoverPollEndpoint":       api.JSON(s.DiscoverPollEndpoint),
		// services
		"CreateService":              api.JSON(s.CreateService),
		"UpdateService":              api.JSON(s.UpdateService),
		"DeleteService":              api.JSON(s.DeleteService),
		"DescribeServices":           api.JSON(s.DescribeServices),
		"ListServices":               api.JSON(s.ListServices),
		"ListServiceDeployments":     api.JSON(s.ListServiceDeployments),
		"DescribeServiceDeployments": api.JSON(s.DescribeServiceDeployments),
		// attributes, tags, account settings
		"PutAttributes":            api.JSON(s.PutAttributes),
		"DeleteAttributes":         api.JSON(s.DeleteAttributes),
		"ListAttributes":           api.JSON(s.ListAttributes),
		"TagResource":              api.JSON(s.TagResource),
		"UntagResource":            api.JSON(s.UntagResource),
		"ListTagsForResource":      api.JSON(s.ListTagsForResource),
		"PutAccountSetting":        api.JSON(s.PutAccountSetting),
		"PutAccountSettingDefault": api.JSON(s.PutAccountSettingDefault),
		"DeleteAccountSetting":     api.JSON(s.DeleteAccountSetting),
		"ListAccountSettings":      api.JSON(s.ListAccountSettings),
	}
	for name := range wire.Operations {
		if _, ok := ops[name]; !ok {
			ops[name] = api.JSON(unsupported(name))
		}
	}
	permit := make(map[string]api.PrincipalKind, len(agentOperations))
	for _, op := range agentOperations {
		permit[op] = api.Instance
	}
	return api.JSONService{
		TargetPrefix:        wire.TargetPrefix,
		SigningName:         wire.SigningName,
		Operations:          ops,
		Permit:              permit,
		ValidationErrorCode: "InvalidParameterException",
		Refused:             refused,
		MapError:            mapError,
	}
}

func unsupported(name string) func(context.Context, *struct{}) (*struct{}, error) {
	return func(context.Context, *struct{}) (*struct{}, error) {
		return nil, flotilla.Errorf(flotilla.EUnsupportedFeature, "%s is not supported by this Flotilla server yet.", name)
	}
}

// errorCodes is the one table from domain error codes to ECS's exceptions.
var errorCodes = map[flotilla.Code]string{
	flotilla.EInvalid:                      "InvalidParameterException",
	flotilla.EClient:                       "ClientException",
	flotilla.EConflict:                     "ConflictException",
	flotilla.ELimit:                        "LimitExceededException",
	flotilla.EClusterNotFound:              "ClusterNotFoundException",
	flotilla.EClusterContainsServices:      "ClusterContainsServicesException",
	flotilla.EClusterContainsInstances:     "ClusterContainsContainerInstancesException",
	flotilla.EClusterContainsTasks:         "ClusterContainsTasksException",
	flotilla.EResourceNotFound:             "ResourceNotFoundException",
	flotilla.EResourceInUse:                "ResourceInUseException",
	flotilla.ETargetNotFound:               "TargetNotFoundException",
	flotilla.EAttributeLimitExceeded:       "AttributeLimitExceededException",
	flotilla.EAccessDenied:                 "AccessDeniedException",
	flotilla.EUpdateInProgress:             "UpdateInProgressException",
	flotilla.EServiceNotFound:              "ServiceNotFoundException",
	flotilla.EServiceNotActive:             "ServiceNotActiveException",
	flotilla.EPlatformUnknown:              "PlatformUnknownException",
	flotilla.EUnsupportedFeature:           "UnsupportedFeatureException",
	flotilla.ENamespaceNotFound:            "NamespaceNotFoundException",
	flotilla.ETaskSetNotFound:              "TaskSetNotFoundException",
	flotilla.EServiceDeploymentNotFound:    "ServiceDeploymentNotFoundException",
	flotilla.EPlatformTaskDefinitionIncomp: "PlatformTaskDefinitionIncompatibilityException",
}

// mapError turns a domain error into ECS's wire error; nil means unmapped
// (the API layer answers ServerException and logs the cause).
func mapError(err error) *api.Error {
	var e *flotilla.Error
	if errors.As(err, &e) {
		if code, ok := errorCodes[e.Code]; ok {
			return &api.Error{Code: code, Message: e.Message}
		}
	}
	return nil
}

// foreign reports whether ref is an ECS ARN of another partition, region
// or account: it names nothing here, as on AWS, where those resources live
// elsewhere.
func (s *Service) foreign(ref string) bool {
	_, isARN := flotilla.ParseARN(ref)
	return isARN && !s.acct.Owns("ecs", ref)
}

// clusterName resolves a cluster named by name or ARN; "" means default. An
// ARN of another region or account names no cluster here.
func (s *Service) clusterName(ref *string) (string, error) {
	if ref == nil || *ref == "" {
		return flotilla.DefaultClusterName, nil
	}
	name := *ref
	if s.foreign(name) {
		return "", flotilla.Errorf(flotilla.EClusterNotFound, "Cluster not found.")
	}
	if p, ok := flotilla.ParseARN(name); ok {
		if p.Type != "cluster" {
			return "", flotilla.Errorf(flotilla.EInvalid, "Invalid cluster ARN: %s", name)
		}
		name = p.Path
	}
	if !flotilla.ValidClusterName(name) {
		return "", flotilla.Errorf(flotilla.EInvalid, "Invalid cluster name: %q. Cluster names can contain up to 255 letters, numbers, hyphens, and underscores.", name)
	}
	return name, nil
}

// hasInclude reports whether an include list names field.
func hasInclude[T ~string](include []T, field T) bool {
	for _, f := range include {
		if strings.EqualFold(string(f), string(field)) {
			return true
		}
	}
	return false
}
