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
}

// Service implements the ECS operations.
type Service struct {
	store    store.Store
	acct     flotilla.Account
	now      func() time.Time
	log      *slog.Logger
	endpoint string
	links    links
	defs     sync.Map // task definition ARN → json.RawMessage
	reads    readCaches
	placer   *scheduler.Placer
	tgLBs    func(ctx context.Context, arn string) ([]string, error)
}

// New returns the ECS service over cfg.Store.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, acct: cfg.Account, now: cfg.Clock, log: cfg.Logger, endpoint: cfg.Endpoint, tgLBs: cfg.TargetGroupLoadBalancers,
		links: links{conns: map[string]*linkConn{}}}
	s.placer = scheduler.NewPlacer(cfg.Store, cfg.Logger)
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
		"CreateCluster":               api.JSON(guard(s, "CreateCluster", s.CreateCluster)),
		"DescribeClusters":            api.JSON(guard(s, "DescribeClusters", s.DescribeClusters)),
		"ListClusters":                api.JSON(guard(s, "ListClusters", s.ListClusters)),
		"UpdateCluster":               api.JSON(guard(s, "UpdateCluster", s.UpdateCluster)),
		"UpdateClusterSettings":       api.JSON(guard(s, "UpdateClusterSettings", s.UpdateClusterSettings)),
		"PutClusterCapacityProviders": api.JSON(guard(s, "PutClusterCapacityProviders", s.PutClusterCapacityProviders)),
		"DeleteCluster":               api.JSON(guard(s, "DeleteCluster", s.DeleteCluster)),
		// task definitions
		"RegisterTaskDefinition":     api.JSON(guard(s, "RegisterTaskDefinition", s.RegisterTaskDefinition)),
		"DescribeTaskDefinition":     api.JSON(guard(s, "DescribeTaskDefinition", s.DescribeTaskDefinition)),
		"ListTaskDefinitions":        api.JSON(guard(s, "ListTaskDefinitions", s.ListTaskDefinitions)),
		"ListTaskDefinitionFamilies": api.JSON(guard(s, "ListTaskDefinitionFamilies", s.ListTaskDefinitionFamilies)),
		"DeregisterTaskDefinition":   api.JSON(guard(s, "DeregisterTaskDefinition", s.DeregisterTaskDefinition)),
		"DeleteTaskDefinitions":      api.JSON(guard(s, "DeleteTaskDefinitions", s.DeleteTaskDefinitions)),
		// container instances
		"RegisterContainerInstance":     api.JSON(guard(s, "RegisterContainerInstance", s.RegisterContainerInstance)),
		"DeregisterContainerInstance":   api.JSON(guard(s, "DeregisterContainerInstance", s.DeregisterContainerInstance)),
		"DescribeContainerInstances":    api.JSON(guard(s, "DescribeContainerInstances", s.DescribeContainerInstances)),
		"ListContainerInstances":        api.JSON(guard(s, "ListContainerInstances", s.ListContainerInstances)),
		"UpdateContainerInstancesState": api.JSON(guard(s, "UpdateContainerInstancesState", s.UpdateContainerInstancesState)),
		// tasks
		"RunTask":                    api.JSON(guard(s, "RunTask", s.RunTask)),
		"StartTask":                  api.JSON(guard(s, "StartTask", s.StartTask)),
		"StopTask":                   api.JSON(guard(s, "StopTask", s.StopTask)),
		"DescribeTasks":              api.JSON(guard(s, "DescribeTasks", s.DescribeTasks)),
		"ListTasks":                  api.JSON(guard(s, "ListTasks", s.ListTasks)),
		"SubmitTaskStateChange":      api.JSON(guard(s, "SubmitTaskStateChange", s.SubmitTaskStateChange)),
		"SubmitContainerStateChange": api.JSON(guard(s, "SubmitContainerStateChange", s.SubmitContainerStateChange)),
		"DiscoverPollEndpoint":       api.JSON(guard(s, "DiscoverPollEndpoint", s.DiscoverPollEndpoint)),
		// services
		"CreateService":              api.JSON(guard(s, "CreateService", s.CreateService)),
		"UpdateService":              api.JSON(guard(s, "UpdateService", s.UpdateService)),
		"DeleteService":              api.JSON(guard(s, "DeleteService", s.DeleteService)),
		"DescribeServices":           api.JSON(guard(s, "DescribeServices", s.DescribeServices)),
		"ListServices":               api.JSON(guard(s, "ListServices", s.ListServices)),
		"ListServiceDeployments":     api.JSON(guard(s, "ListServiceDeployments", s.ListServiceDeployments)),
		"DescribeServiceDeployments": api.JSON(guard(s, "DescribeServiceDeployments", s.DescribeServiceDeployments)),
		// attributes, tags, account settings
		"PutAttributes":            api.JSON(guard(s, "PutAttributes", s.PutAttributes)),
		"DeleteAttributes":         api.JSON(guard(s, "DeleteAttributes", s.DeleteAttributes)),
		"ListAttributes":           api.JSON(guard(s, "ListAttributes", s.ListAttributes)),
		"TagResource":              api.JSON(guard(s, "TagResource", s.TagResource)),
		"UntagResource":            api.JSON(guard(s, "UntagResource", s.UntagResource)),
		"ListTagsForResource":      api.JSON(guard(s, "ListTagsForResource", s.ListTagsForResource)),
		"PutAccountSetting":        api.JSON(guard(s, "PutAccountSetting", s.PutAccountSetting)),
		"PutAccountSettingDefault": api.JSON(guard(s, "PutAccountSettingDefault", s.PutAccountSettingDefault)),
		"DeleteAccountSetting":     api.JSON(guard(s, "DeleteAccountSetting", s.DeleteAccountSetting)),
		"ListAccountSettings":      api.JSON(guard(s, "ListAccountSettings", s.ListAccountSettings)),
	}
	for name := range wire.Operations {
		if _, ok := ops[name]; !ok {
			ops[name] = api.JSON(guard(s, name, unsupported(name)))
		}
	}
	return api.JSONService{
		TargetPrefix:        wire.TargetPrefix,
		SigningName:         wire.SigningName,
		Operations:          ops,
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

// clusterName resolves a cluster named by name or ARN; "" means default.
func clusterName(ref *string) (string, error) {
	if ref == nil || *ref == "" {
		return flotilla.DefaultClusterName, nil
	}
	name := *ref
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
