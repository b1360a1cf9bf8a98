package ecs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/store"
)

// CreateService creates a service; the service controller then starts its
// tasks. A retry with the same client token returns the same service.
func (s *Service) CreateService(ctx context.Context, in *wire.CreateServiceRequest) (*wire.CreateServiceResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	name := ptr.Deref(in.ServiceName)
	if !flotilla.ValidName(name) {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Invalid service name %q: up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.", name)
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	if in.LaunchType != "" && in.LaunchType != wire.LaunchTypeEc2 && in.LaunchType != wire.LaunchTypeExternal {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Launch type %s is not supported: Flotilla runs tasks on registered container instances (EC2 or EXTERNAL).", in.LaunchType)
	}
	if in.DeploymentController != nil && in.DeploymentController.Type != wire.DeploymentControllerTypeEcs {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Deployment controller type %s is not supported; use ECS.", in.DeploymentController.Type)
	}
	strategy := string(in.SchedulingStrategy)
	if strategy == "" {
		strategy = flotilla.SchedulingReplica
	}
	desired := int(ptr.Deref(in.DesiredCount))
	if strategy == flotilla.SchedulingDaemon {
		if in.DesiredCount != nil && *in.DesiredCount != 0 {
			return nil, flotilla.Errorf(flotilla.EInvalid, "The daemon scheduling strategy does not support a desired count for services.")
		}
		if len(in.PlacementStrategy) > 0 {
			return nil, flotilla.Errorf(flotilla.EInvalid, "The daemon scheduling strategy does not support placement strategies.")
		}
	}
	if err := flotilla.ValidateDesiredCount(int64(desired)); err != nil {
		return nil, err
	}
	if in.HealthCheckGracePeriodSeconds != nil {
		if err := flotilla.ValidateHealthCheckGracePeriod(int64(*in.HealthCheckGracePeriodSeconds)); err != nil {
			return nil, err
		}
	}
	td, _, err := s.findTaskDefinition(ctx, ptr.Deref(in.TaskDefinition))
	if err != nil {
		return nil, err
	}
	if td.Status != flotilla.TaskDefinitionActive {
		return nil, flotilla.Errorf(flotilla.EClient, "TaskDefinition is inactive")
	}
	if taskDefToWire(td).NetworkMode == wire.NetworkModeAwsvpc {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Network mode awsvpc is not supported by Flotilla's agent yet; use bridge, host or none.")
	}
	dc, err := deploymentConfiguration(in.DeploymentConfiguration, strategy, nil)
	if err != nil {
		return nil, err
	}
	if err := s.checkLoadBalancers(ctx, in.LoadBalancers, td); err != nil {
		return nil, err
	}
	constraints, strategies := placementConstraintsFromWire(in.PlacementConstraints), placementStrategiesFromWire(in.PlacementStrategy)
	if err := checkPlacement(constraints, strategies); err != nil {
		return nil, err
	}
	tags := tagsFromWire(in.Tags)
	if err := flotilla.ValidateTags(tags); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	svc := flotilla.Service{
		Name: name, ARN: s.acct.ServiceARN(cluster, name), Cluster: cluster, Status: flotilla.ServiceActive,
		SchedulingStrategy: strategy, DesiredCount: desired, TaskDefinitionARN: td.ARN, DeploymentConfiguration: dc,
		PlacementConstraints: constraints, PlacementStrategy: strategies,
		HealthCheckGracePeriodSeconds: int(ptr.Deref(in.HealthCheckGracePeriodSeconds)), LoadBalancers: loadBalancersFromWire(in.LoadBalancers),
		Tags: tags, CreatedAt: now, CreatedBy: s.acct.RootPrincipal(), Version: 1, ClientToken: ptr.Deref(in.ClientToken),
	}
	if len(svc.PlacementStrategy) == 0 && strategy == flotilla.SchedulingReplica {
		// ECS's default for a service: spread across zones, then instances.
		svc.PlacementStrategy = []flotilla.PlacementStrategy{
			{Type: scheduler.StrategySpread, Field: "attribute:ecs.availability-zone"},
			{Type: scheduler.StrategySpread, Field: "instanceId"}}
	}
	svc.StartDeployment(flotilla.NewDeployment(flotilla.NewDeploymentID(), td.ARN, desired, now))
	key := flotilla.ServiceKey(cluster, name)
	for {
		old, rev, err := store.GetJSON[flotilla.Service](ctx, s.store, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			rev = 0
		case err != nil:
			return nil, err
		case old.Status != flotilla.ServiceInactive:
			if svc.ClientToken != "" && old.ClientToken == svc.ClientToken {
				return &wire.CreateServiceResponse{Service: s.serviceToWire(old, false)}, nil
			}
			return nil, flotilla.Errorf(flotilla.EInvalid, "Creation of service was not idempotent.")
		}
		svc.Events = []flotilla.ServiceEvent{}
		_, err = s.store.Txn(ctx, store.Txn{Compares: []store.Compare{{Key: key, ModRevision: rev}}, Ops: []store.Op{putJSON(key, svc)}})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &wire.CreateServiceResponse{Service: s.serviceToWire(&svc, false)}, nil
	}
}

// deploymentConfiguration applies a request's configuration to have (or to
// ECS's defaults for the scheduling strategy) and validates the result.
func deploymentConfiguration(in *wire.DeploymentConfiguration, strategy string, have *flotilla.DeploymentConfiguration) (flotilla.DeploymentConfiguration, error) {
	dc := flotilla.DefaultDeploymentConfiguration(strategy)
	if have != nil {
		dc = *have
	}
	if in == nil {
		return dc, nil
	}
	if in.MinimumHealthyPercent != nil {
		dc.MinimumHealthyPercent = int(*in.MinimumHealthyPercent)
	}
	if in.MaximumPercent != nil {
		dc.MaximumPercent = int(*in.MaximumPercent)
	}
	if cb := in.DeploymentCircuitBreaker; cb != nil {
		dc.CircuitBreaker = flotilla.CircuitBreaker{Enable: ptr.Deref(cb.Enable), Rollback: ptr.Deref(cb.Rollback)}
	}
	return dc, dc.Validate(strategy)
}

// checkPlacement validates a service's placement as the scheduler would.
func checkPlacement(cs []flotilla.PlacementConstraint, ss []flotilla.PlacementStrategy) error {
	_, err := scheduler.Compile(cs, ss)
	return err
}

// maxLoadBalancers is how many load balancers a service may have, as in ECS.
const maxLoadBalancers = 5

// checkLoadBalancers checks a service's loadBalancers as ECS does: each
// names an existing target group that a load balancer forwards to, and a
// container of the task definition with that container port mapped.
func (s *Service) checkLoadBalancers(ctx context.Context, lbs []wire.LoadBalancer, td *flotilla.TaskDefinition) error {
	if len(lbs) == 0 {
		return nil
	}
	if len(lbs) > maxLoadBalancers {
		return flotilla.Errorf(flotilla.EInvalid, "loadBalancers can have at most %d items.", maxLoadBalancers)
	}
	if s.tgLBs == nil {
		return flotilla.Errorf(flotilla.EInvalid, "Load balancers are not available on this server.")
	}
	var def *wire.TaskDefinition
	if td != nil {
		def = taskDefToWire(td)
	}
	for _, l := range lbs {
		arn, name, port := ptr.Deref(l.TargetGroupArn), ptr.Deref(l.ContainerName), int(ptr.Deref(l.ContainerPort))
		switch {
		case ptr.Deref(l.LoadBalancerName) != "":
			return flotilla.Errorf(flotilla.EInvalid, "Classic Load Balancers are not supported; give the targetGroupArn of an Application Load Balancer's target group.")
		case arn == "":
			return flotilla.Errorf(flotilla.EInvalid, "targetGroupArn must be specified for a load balancer.")
		case name == "" || l.ContainerPort == nil:
			return flotilla.Errorf(flotilla.EInvalid, "containerName and containerPort must be specified for a load balancer.")
		}
		owners, err := s.tgLBs(ctx, arn)
		if err != nil {
			return flotilla.Errorf(flotilla.EInvalid, "The target group with targetGroupArn %s does not exist.", arn)
		}
		if len(owners) == 0 {
			return flotilla.Errorf(flotilla.EInvalid, "The target group with targetGroupArn %s does not have an associated load balancer.", arn)
		}
		if def == nil {
			continue
		}
		found, mapped := false, false
		for _, c := range def.ContainerDefinitions {
			if ptr.Deref(c.Name) != name {
				continue
			}
			found = true
			for _, pm := range c.PortMappings {
				if int(ptr.Deref(pm.ContainerPort)) == port && (pm.Protocol == "" || pm.Protocol == wire.TransportProtocolTcp) {
					mapped = true
				}
			}
		}
		if !found {
			return flotilla.Errorf(flotilla.EInvalid, "The container %s does not exist in the task definition.", name)
		}
		if !mapped {
			return flotilla.Errorf(flotilla.EInvalid, "The container %s did not have a container port %d defined.", name, port)
		}
	}
	return nil
}

// UpdateService changes a service; a new task definition or
// forceNewDeployment starts a new deployment.
func (s *Service) UpdateService(ctx context.Context, in *wire.UpdateServiceRequest) (*wire.UpdateServiceResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	var td *flotilla.TaskDefinition
	if ref := ptr.Deref(in.TaskDefinition); ref != "" {
		if td, _, err = s.findTaskDefinition(ctx, ref); err != nil {
			return nil, err
		}
		if td.Status != flotilla.TaskDefinitionActive {
			return nil, flotilla.Errorf(flotilla.EClient, "TaskDefinition is inactive")
		}
	}
	constraints, strategies := placementConstraintsFromWire(in.PlacementConstraints), placementStrategiesFromWire(in.PlacementStrategy)
	if in.PlacementConstraints != nil || in.PlacementStrategy != nil {
		if err := checkPlacement(constraints, strategies); err != nil {
			return nil, err
		}
	}
	if in.LoadBalancers != nil {
		check := td
		if check == nil {
			cur, _, err := s.getService(ctx, cluster, ptr.Deref(in.Service))
			if err != nil {
				return nil, err
			}
			if check, _, err = s.findTaskDefinition(ctx, cur.TaskDefinitionARN); err != nil {
				return nil, err
			}
		}
		if err := s.checkLoadBalancers(ctx, in.LoadBalancers, check); err != nil {
			return nil, err
		}
	} else if td != nil {
		cur, _, err := s.getService(ctx, cluster, ptr.Deref(in.Service))
		if err != nil {
			return nil, err
		}
		if err := s.checkLoadBalancers(ctx, loadBalancersToWire(cur.LoadBalancers), td); err != nil {
			return nil, err
		}
	}
	svc, err := s.updateService(ctx, cluster, ptr.Deref(in.Service), func(svc *flotilla.Service) error {
		if svc.Status != flotilla.ServiceActive {
			return flotilla.Errorf(flotilla.EServiceNotActive, "Service was not ACTIVE.")
		}
		if in.DesiredCount != nil {
			if svc.SchedulingStrategy == flotilla.SchedulingDaemon {
				return flotilla.Errorf(flotilla.EInvalid, "The daemon scheduling strategy does not support a desired count for services.")
			}
			if err := flotilla.ValidateDesiredCount(int64(*in.DesiredCount)); err != nil {
				return err
			}
			svc.DesiredCount = int(*in.DesiredCount)
		}
		dc, err := deploymentConfiguration(in.DeploymentConfiguration, svc.SchedulingStrategy, &svc.DeploymentConfiguration)
		if err != nil {
			return err
		}
		svc.DeploymentConfiguration = dc
		if in.PlacementConstraints != nil {
			svc.PlacementConstraints = constraints
		}
		if in.PlacementStrategy != nil {
			if svc.SchedulingStrategy == flotilla.SchedulingDaemon && len(in.PlacementStrategy) > 0 {
				return flotilla.Errorf(flotilla.EInvalid, "The daemon scheduling strategy does not support placement strategies.")
			}
			svc.PlacementStrategy = strategies
		}
		if in.HealthCheckGracePeriodSeconds != nil {
			if err := flotilla.ValidateHealthCheckGracePeriod(int64(*in.HealthCheckGracePeriodSeconds)); err != nil {
				return err
			}
			svc.HealthCheckGracePeriodSeconds = int(*in.HealthCheckGracePeriodSeconds)
		}
		if in.LoadBalancers != nil {
			svc.LoadBalancers = loadBalancersFromWire(in.LoadBalancers)
		}
		now := s.now().UTC()
		if (td != nil && td.ARN != svc.TaskDefinitionARN) || ptr.Deref(in.ForceNewDeployment) {
			tdARN := svc.TaskDefinitionARN
			if td != nil {
				tdARN = td.ARN
			}
			svc.StartDeployment(flotilla.NewDeployment(flotilla.NewDeploymentID(), tdARN, svc.DesiredCount, now))
		}
		for i := range svc.Deployments {
			if svc.Deployments[i].Status == flotilla.DeploymentPrimary {
				svc.Deployments[i].DesiredCount = svc.DesiredCount
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.UpdateServiceResponse{Service: s.serviceToWire(svc, false)}, nil
}

// DeleteService drains a service: refused while it is scaled above zero
// unless forced; its tasks stop, then it is INACTIVE.
func (s *Service) DeleteService(ctx context.Context, in *wire.DeleteServiceRequest) (*wire.DeleteServiceResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	svc, err := s.updateService(ctx, cluster, ptr.Deref(in.Service), func(svc *flotilla.Service) error {
		if svc.Status != flotilla.ServiceActive {
			return flotilla.Errorf(flotilla.EServiceNotActive, "Service was not ACTIVE.")
		}
		if svc.DesiredCount > 0 && svc.SchedulingStrategy == flotilla.SchedulingReplica && !ptr.Deref(in.Force) {
			return flotilla.Errorf(flotilla.EInvalid, "The service cannot be stopped while it is scaled above 0.")
		}
		svc.Status = flotilla.ServiceDraining
		svc.DesiredCount = 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.DeleteServiceResponse{Service: s.serviceToWire(svc, false)}, nil
}

// DescribeServices describes up to 10 services by name or ARN.
func (s *Service) DescribeServices(ctx context.Context, in *wire.DescribeServicesRequest) (*wire.DescribeServicesResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	switch {
	case len(in.Services) == 0:
		return nil, flotilla.Errorf(flotilla.EInvalid, "services must contain between 1 and 10 items.")
	case len(in.Services) > 10:
		// ECS's own words.
		return nil, flotilla.Errorf(flotilla.EInvalid, "service names can have at most 10 items.")
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	withTags := hasInclude(in.Include, wire.ServiceFieldTags)
	services, failures, err := describe(in.Services,
		func(ref string) (*flotilla.Service, error) {
			v, _, err := s.getService(ctx, cluster, ref)
			return v, err
		},
		func(ref string) string { return s.acct.ServiceARN(cluster, serviceName(ref)) },
		func(v *flotilla.Service) wire.Service { return *s.serviceToWire(v, withTags) })
	if err != nil {
		return nil, err
	}
	return &wire.DescribeServicesResponse{Services: services, Failures: failures}, nil
}

// ListServices lists the ARNs of a cluster's services that are not
// INACTIVE.
func (s *Service) ListServices(ctx context.Context, in *wire.ListServicesRequest) (*wire.ListServicesResponse, error) {
	cluster, p, err := s.clusterPage(ctx, in.Cluster, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	if in.MaxResults == nil {
		p.limit = 10 // ECS's default page of services
	}
	items, _, err := store.ListJSON[flotilla.Service](ctx, s.store, flotilla.ServicesPrefix+cluster+"/", store.ListOptions{})
	if err != nil {
		return nil, err
	}
	var keep []flotilla.Service
	for _, it := range items {
		svc := it.Value
		if svc.Status == flotilla.ServiceInactive || (in.SchedulingStrategy != "" && string(in.SchedulingStrategy) != svc.SchedulingStrategy) ||
			(in.LaunchType != "" && in.LaunchType != wire.LaunchTypeEc2) {
			continue
		}
		keep = append(keep, svc)
	}
	page, next := paginate(keep, func(v flotilla.Service) string { return v.Name }, p)
	out := &wire.ListServicesResponse{ServiceArns: []string{}, NextToken: next}
	for _, v := range page {
		out.ServiceArns = append(out.ServiceArns, v.ARN)
	}
	return out, nil
}

// ListServiceDeployments lists a service's deployments, newest first.
func (s *Service) ListServiceDeployments(ctx context.Context, in *wire.ListServiceDeploymentsRequest) (*wire.ListServiceDeploymentsResponse, error) {
	cluster, p, err := s.clusterPage(ctx, in.Cluster, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	svc, _, err := s.getService(ctx, cluster, ptr.Deref(in.Service))
	if err != nil {
		return nil, err
	}
	var all []wire.ServiceDeploymentBrief
	for _, d := range serviceDeployments(svc) {
		b := s.deploymentBrief(svc, d)
		if len(in.Status) > 0 && !slices.Contains(in.Status, b.Status) {
			continue
		}
		if cr := in.CreatedAt; cr != nil {
			if (cr.After != nil && !d.CreatedAt.After(cr.After.Time)) || (cr.Before != nil && !d.CreatedAt.Before(cr.Before.Time)) {
				continue
			}
		}
		all = append(all, b)
	}
	page, next := paginate(all, func(b wire.ServiceDeploymentBrief) string {
		return fmt.Sprintf("%020d", math.MaxInt64-b.CreatedAt.UnixNano())
	}, p)
	return &wire.ListServiceDeploymentsResponse{ServiceDeployments: append([]wire.ServiceDeploymentBrief{}, page...), NextToken: next}, nil
}

// DescribeServiceDeployments describes deployments by ARN.
func (s *Service) DescribeServiceDeployments(ctx context.Context, in *wire.DescribeServiceDeploymentsRequest) (*wire.DescribeServiceDeploymentsResponse, error) {
	if len(in.ServiceDeploymentArns) == 0 || len(in.ServiceDeploymentArns) > 20 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "serviceDeploymentArns must contain between 1 and 20 items.")
	}
	out := &wire.DescribeServiceDeploymentsResponse{ServiceDeployments: []wire.ServiceDeployment{}, Failures: []wire.Failure{}}
	for _, arn := range in.ServiceDeploymentArns {
		p, ok := flotilla.ParseARN(arn)
		parts := strings.Split(p.Path, "/")
		if !ok || s.foreign(arn) || p.Type != "service-deployment" || len(parts) != 3 {
			out.Failures = append(out.Failures, wire.Failure{Arn: ptr.To(arn), Reason: ptr.To("MISSING")})
			continue
		}
		svc, _, err := s.getService(ctx, parts[0], parts[1])
		if err != nil {
			out.Failures = append(out.Failures, wire.Failure{Arn: ptr.To(arn), Reason: ptr.To("MISSING")})
			continue
		}
		found := false
		for _, d := range serviceDeployments(svc) {
			if d.ID != parts[2] {
				continue
			}
			b := s.deploymentBrief(svc, d)
			cb := svc.DeploymentConfiguration.CircuitBreaker
			out.ServiceDeployments = append(out.ServiceDeployments, wire.ServiceDeployment{
				ServiceDeploymentArn: b.ServiceDeploymentArn, ServiceArn: b.ServiceArn, ClusterArn: b.ClusterArn,
				CreatedAt: b.CreatedAt, StartedAt: b.StartedAt, FinishedAt: b.FinishedAt, UpdatedAt: model.NewTime(d.UpdatedAt),
				Status: b.Status, StatusReason: b.StatusReason,
				DeploymentConfiguration: deploymentConfigToWire(svc.DeploymentConfiguration),
				DeploymentCircuitBreaker: &wire.ServiceDeploymentCircuitBreaker{Status: circuitStatus(cb, d),
					FailureCount: ptr.To(int32(d.FailedTasks)), Threshold: ptr.To(int32(flotilla.CircuitBreakerThreshold(d.DesiredCount)))},
			})
			found = true
		}
		if !found {
			out.Failures = append(out.Failures, wire.Failure{Arn: ptr.To(arn), Reason: ptr.To("MISSING")})
		}
	}
	return out, nil
}

func circuitStatus(cb flotilla.CircuitBreaker, d flotilla.Deployment) wire.ServiceDeploymentRollbackMonitorsStatus {
	switch {
	case !cb.Enable:
		return wire.ServiceDeploymentRollbackMonitorsStatusDisabled
	case d.RolloutState == flotilla.RolloutFailed:
		return wire.ServiceDeploymentRollbackMonitorsStatusTriggered
	default:
		return wire.ServiceDeploymentRollbackMonitorsStatusMonitoring
	}
}

// serviceDeployments are a service's deployments, current and past, newest
// first.
func serviceDeployments(svc *flotilla.Service) []flotilla.Deployment {
	all := append(slices.Clone(svc.Deployments), svc.History...)
	slices.SortStableFunc(all, func(a, b flotilla.Deployment) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return all
}

func (s *Service) deploymentBrief(svc *flotilla.Service, d flotilla.Deployment) wire.ServiceDeploymentBrief {
	b := wire.ServiceDeploymentBrief{
		ServiceDeploymentArn: ptr.To(s.acct.ServiceDeploymentARN(svc.Cluster, svc.Name, d.ID)),
		ServiceArn:           ptr.To(svc.ARN), ClusterArn: ptr.To(s.acct.ClusterARN(svc.Cluster)),
		CreatedAt: model.NewTime(d.CreatedAt), StartedAt: model.NewTime(d.CreatedAt),
		TargetServiceRevisionArn: ptr.To(s.acct.ARN("service-revision/" + svc.Cluster + "/" + svc.Name + "/" + d.ID)),
	}
	switch {
	case d.RolloutState == flotilla.RolloutCompleted:
		b.Status, b.FinishedAt = wire.ServiceDeploymentStatusSuccessful, model.NewTime(d.UpdatedAt)
	case d.RolloutState == flotilla.RolloutFailed && svc.DeploymentConfiguration.CircuitBreaker.Rollback:
		b.Status, b.FinishedAt = wire.ServiceDeploymentStatusRollbackSuccessful, model.NewTime(d.UpdatedAt)
	case d.RolloutState == flotilla.RolloutFailed:
		b.Status, b.FinishedAt = wire.ServiceDeploymentStatusStopped, model.NewTime(d.UpdatedAt)
	case d.Status == flotilla.DeploymentPrimary:
		b.Status = wire.ServiceDeploymentStatusInProgress
	default:
		b.Status, b.FinishedAt = wire.ServiceDeploymentStatusStopped, model.NewTime(d.UpdatedAt)
	}
	if d.RolloutStateReason != "" {
		b.StatusReason = ptr.To(d.RolloutStateReason)
	}
	return b
}

func deploymentConfigToWire(dc flotilla.DeploymentConfiguration) *wire.DeploymentConfiguration {
	return &wire.DeploymentConfiguration{
		MinimumHealthyPercent: ptr.To(int32(dc.MinimumHealthyPercent)), MaximumPercent: ptr.To(int32(dc.MaximumPercent)),
		DeploymentCircuitBreaker: &wire.DeploymentCircuitBreaker{Enable: ptr.To(dc.CircuitBreaker.Enable), Rollback: ptr.To(dc.CircuitBreaker.Rollback)},
	}
}

// serviceName is the name in a service's name or ARN.
func serviceName(ref string) string {
	if p, ok := flotilla.ParseARN(ref); ok && p.Type == "service" {
		return p.Path[strings.LastIndexByte(p.Path, '/')+1:]
	}
	return ref
}

func (s *Service) getService(ctx context.Context, cluster, ref string) (*flotilla.Service, int64, error) {
	cluster, name, err := s.serviceKey(cluster, ref)
	if err != nil {
		return nil, 0, err
	}
	svc, rev, err := store.GetJSON[flotilla.Service](ctx, s.store, flotilla.ServiceKey(cluster, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, flotilla.Errorf(flotilla.EServiceNotFound, "Service not found.")
	}
	return svc, rev, err
}

// serviceKey resolves a service named by name or ARN to its cluster and
// name.
func (s *Service) serviceKey(cluster, ref string) (string, string, error) {
	if s.foreign(ref) {
		return "", "", flotilla.Errorf(flotilla.EServiceNotFound, "Service not found.")
	}
	if p, ok := flotilla.ParseARN(ref); ok && p.Type == "service" {
		if c, _, found := strings.Cut(p.Path, "/"); found {
			cluster = c
		}
	}
	name := serviceName(ref)
	if !flotilla.ValidName(name) {
		return "", "", flotilla.Errorf(flotilla.EServiceNotFound, "Service not found.")
	}
	return cluster, name, nil
}

func (s *Service) updateService(ctx context.Context, cluster, ref string, mutate func(*flotilla.Service) error) (*flotilla.Service, error) {
	cluster, name, err := s.serviceKey(cluster, ref)
	if err != nil {
		return nil, err
	}
	return update(ctx, s.store, flotilla.ServiceKey(cluster, name), func(svc *flotilla.Service) error {
		if svc == nil {
			return flotilla.Errorf(flotilla.EServiceNotFound, "Service not found.")
		}
		return nil
	}, func(svc *flotilla.Service) error {
		if err := mutate(svc); err != nil {
			return err
		}
		svc.Version++
		return nil
	})
}

func (s *Service) serviceToWire(svc *flotilla.Service, withTags bool) *wire.Service {
	w := &wire.Service{
		ServiceArn: ptr.To(svc.ARN), ServiceName: ptr.To(svc.Name), ClusterArn: ptr.To(s.acct.ClusterARN(svc.Cluster)),
		Status: ptr.To(svc.Status), DesiredCount: ptr.To(int32(svc.DesiredCount)), LaunchType: wire.LaunchTypeEc2,
		TaskDefinition: ptr.To(svc.TaskDefinitionARN), DeploymentConfiguration: deploymentConfigToWire(svc.DeploymentConfiguration),
		SchedulingStrategy: wire.SchedulingStrategy(svc.SchedulingStrategy), CreatedAt: model.NewTime(svc.CreatedAt),
		CreatedBy: ptr.To(svc.CreatedBy), HealthCheckGracePeriodSeconds: ptr.To(int32(svc.HealthCheckGracePeriodSeconds)),
		DeploymentController: &wire.DeploymentController{Type: wire.DeploymentControllerTypeEcs},
		PlacementConstraints: placementConstraintsToWire(svc.PlacementConstraints),
		PlacementStrategy:    placementStrategiesToWire(svc.PlacementStrategy),
		LoadBalancers:        loadBalancersToWire(svc.LoadBalancers),
		ServiceRegistries:    []wire.ServiceRegistry{}, Deployments: []wire.Deployment{}, Events: []wire.ServiceEvent{},
		EnableECSManagedTags: ptr.To(false), EnableExecuteCommand: ptr.To(false), PropagateTags: wire.PropagateTagsNone,
		RunningCount: ptr.To(int32(0)), PendingCount: ptr.To(int32(0)),
	}
	for _, d := range svc.Deployments {
		*w.RunningCount += int32(d.RunningCount)
		*w.PendingCount += int32(d.PendingCount)
		w.Deployments = append(w.Deployments, wire.Deployment{
			Id: ptr.To("ecs-svc/" + d.ID), Status: ptr.To(d.Status), TaskDefinition: ptr.To(d.TaskDefinitionARN),
			DesiredCount: ptr.To(int32(d.DesiredCount)), RunningCount: ptr.To(int32(d.RunningCount)), PendingCount: ptr.To(int32(d.PendingCount)),
			FailedTasks: ptr.To(int32(d.FailedTasks)), CreatedAt: model.NewTime(d.CreatedAt), UpdatedAt: model.NewTime(d.UpdatedAt),
			LaunchType: wire.LaunchTypeEc2, RolloutState: wire.DeploymentRolloutState(d.RolloutState), RolloutStateReason: ptr.To(d.RolloutStateReason),
		})
	}
	for _, e := range svc.Events {
		w.Events = append(w.Events, wire.ServiceEvent{Id: ptr.To(e.ID), CreatedAt: model.NewTime(e.CreatedAt), Message: ptr.To(e.Message)})
	}
	if withTags {
		w.Tags = tagsToWire(svc.Tags)
	}
	return w
}
