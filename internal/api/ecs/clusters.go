package ecs

import (
	"context"
	"errors"
	"slices"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// knownCapacityProviders are the capacity providers every account has.
var knownCapacityProviders = []string{"FARGATE", "FARGATE_SPOT"}

// CreateCluster creates a cluster, or returns the ACTIVE one of that name
// unchanged, as ECS does.
func (s *Service) CreateCluster(ctx context.Context, in *wire.CreateClusterRequest) (*wire.CreateClusterResponse, error) {
	name := ptr.Deref(in.ClusterName)
	if name == "" {
		name = flotilla.DefaultClusterName
	}
	if !flotilla.ValidClusterName(name) {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Invalid cluster name: %q. Cluster names can contain up to 255 letters, numbers, hyphens, and underscores.", name)
	}
	tags := tagsFromWire(in.Tags)
	if err := flotilla.ValidateTags(tags); err != nil {
		return nil, err
	}
	settings, err := clusterSettings(in.Settings)
	if err != nil {
		return nil, err
	}
	if err := validateCapacityProviders(in.CapacityProviders, in.DefaultCapacityProviderStrategy); err != nil {
		return nil, err
	}
	if !hasSetting(settings, "containerInsights") {
		v, err := s.effectiveSetting(ctx, s.acct.RootPrincipal(), string(wire.SettingNameContainerInsights))
		if err != nil {
			return nil, err
		}
		settings = append(settings, flotilla.Setting{Name: "containerInsights", Value: v})
	}
	c := flotilla.Cluster{
		Name:                            name,
		ARN:                             s.acct.ClusterARN(name),
		Status:                          flotilla.StatusActive,
		Settings:                        settings,
		CapacityProviders:               in.CapacityProviders,
		DefaultCapacityProviderStrategy: rawJSON(in.DefaultCapacityProviderStrategy),
		Configuration:                   rawJSON(in.Configuration),
		ServiceConnectDefaults:          rawJSON(in.ServiceConnectDefaults),
		Tags:                            tags,
		CreatedAt:                       s.now().UTC(),
	}
	for {
		old, rev, err := store.GetJSON[flotilla.Cluster](ctx, s.store, flotilla.ClusterKey(name))
		switch {
		case err == nil && old.Status == flotilla.StatusActive:
			return &wire.CreateClusterResponse{Cluster: s.clusterToWire(ctx, old, nil)}, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		_, err = s.store.Txn(ctx, store.Txn{
			Compares: []store.Compare{{Key: flotilla.ClusterKey(name), ModRevision: rev}},
			Ops:      []store.Op{putJSON(flotilla.ClusterKey(name), c)},
		})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &wire.CreateClusterResponse{Cluster: s.clusterToWire(ctx, &c, allClusterFields)}, nil
	}
}

var allClusterFields = []wire.ClusterField{wire.ClusterFieldSettings, wire.ClusterFieldConfigurations, wire.ClusterFieldTags}

// DescribeClusters describes clusters by name or ARN; unknown ones come back
// in failures with reason MISSING.
func (s *Service) DescribeClusters(ctx context.Context, in *wire.DescribeClustersRequest) (*wire.DescribeClustersResponse, error) {
	refs := in.Clusters
	if len(refs) == 0 {
		refs = []string{flotilla.DefaultClusterName}
	}
	if len(refs) > 100 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "clusters can have at most 100 items.")
	}
	rev, err := s.store.Rev(ctx)
	if err != nil {
		return nil, err
	}
	out := &wire.DescribeClustersResponse{Clusters: make([]wire.Cluster, 0, len(refs)), Failures: []wire.Failure{}}
	for _, ref := range refs {
		name, err := s.clusterName(&ref)
		if err != nil {
			out.Failures = append(out.Failures, wire.Failure{Arn: ptr.To(ref), Reason: ptr.To("MISSING")})
			continue
		}
		v, ok := s.reads.clusters.load(name, rev)
		if !ok {
			kv, err := s.store.Get(ctx, flotilla.ClusterKey(name))
			if errors.Is(err, store.ErrNotFound) {
				out.Failures = append(out.Failures, wire.Failure{Arn: ptr.To(s.acct.ClusterARN(name)), Reason: ptr.To("MISSING")})
				continue
			}
			if err != nil {
				return nil, err
			}
			if v, err = decoded(&s.reads.clusterRecords, kv, decodeClusterView); err != nil {
				return nil, err
			}
			s.reads.clusters.store(name, rev, v)
		}
		out.Clusters = append(out.Clusters, v.wire(s.activeInstances(ctx, v.rec, rev), in.Include))
	}
	return out, nil
}

// ListClusters lists the ARNs of ACTIVE clusters.
func (s *Service) ListClusters(ctx context.Context, in *wire.ListClustersRequest) (*wire.ListClustersResponse, error) {
	p, err := parsePage(in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	items, _, err := store.ListJSON[flotilla.Cluster](ctx, s.store, flotilla.ClustersPrefix, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	var active []flotilla.Cluster
	for _, it := range items {
		if it.Value.Status == flotilla.StatusActive {
			active = append(active, it.Value)
		}
	}
	pageItems, next := paginate(active, func(c flotilla.Cluster) string { return c.Name }, p)
	out := &wire.ListClustersResponse{ClusterArns: []string{}, NextToken: next}
	for _, c := range pageItems {
		out.ClusterArns = append(out.ClusterArns, c.ARN)
	}
	return out, nil
}

// UpdateCluster changes a cluster's settings, configuration and Service
// Connect defaults.
func (s *Service) UpdateCluster(ctx context.Context, in *wire.UpdateClusterRequest) (*wire.UpdateClusterResponse, error) {
	settings, err := clusterSettings(in.Settings)
	if err != nil {
		return nil, err
	}
	c, err := s.updateCluster(ctx, in.Cluster, func(c *flotilla.Cluster) error {
		c.Settings = mergeSettings(c.Settings, settings)
		if in.Configuration != nil {
			c.Configuration = rawJSON(in.Configuration)
		}
		if in.ServiceConnectDefaults != nil {
			c.ServiceConnectDefaults = rawJSON(in.ServiceConnectDefaults)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.UpdateClusterResponse{Cluster: s.clusterToWire(ctx, c, allClusterFields)}, nil
}

// UpdateClusterSettings changes a cluster's settings.
func (s *Service) UpdateClusterSettings(ctx context.Context, in *wire.UpdateClusterSettingsRequest) (*wire.UpdateClusterSettingsResponse, error) {
	settings, err := clusterSettings(in.Settings)
	if err != nil {
		return nil, err
	}
	c, err := s.updateCluster(ctx, in.Cluster, func(c *flotilla.Cluster) error {
		c.Settings = mergeSettings(c.Settings, settings)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.UpdateClusterSettingsResponse{Cluster: s.clusterToWire(ctx, c, []wire.ClusterField{wire.ClusterFieldSettings})}, nil
}

// PutClusterCapacityProviders replaces a cluster's capacity providers and
// default strategy.
func (s *Service) PutClusterCapacityProviders(ctx context.Context, in *wire.PutClusterCapacityProvidersRequest) (*wire.PutClusterCapacityProvidersResponse, error) {
	if err := validateCapacityProviders(in.CapacityProviders, in.DefaultCapacityProviderStrategy); err != nil {
		return nil, err
	}
	c, err := s.updateCluster(ctx, in.Cluster, func(c *flotilla.Cluster) error {
		c.CapacityProviders = in.CapacityProviders
		c.DefaultCapacityProviderStrategy = rawJSON(in.DefaultCapacityProviderStrategy)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.PutClusterCapacityProvidersResponse{Cluster: s.clusterToWire(ctx, c, allClusterFields)}, nil
}

// DeleteCluster marks a cluster INACTIVE; it is refused while the cluster
// has active or draining container instances.
func (s *Service) DeleteCluster(ctx context.Context, in *wire.DeleteClusterRequest) (*wire.DeleteClusterResponse, error) {
	c, err := s.updateCluster(ctx, in.Cluster, func(c *flotilla.Cluster) error {
		n, err := s.countInstances(ctx, c.Name)
		if err != nil {
			return err
		}
		if n > 0 {
			return flotilla.Errorf(flotilla.EClusterContainsInstances, "The Cluster cannot be deleted while Container Instances are active or draining.")
		}
		c.Status = flotilla.StatusInactive
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.DeleteClusterResponse{Cluster: s.clusterToWire(ctx, c, allClusterFields)}, nil
}

// updateCluster applies mutate to an ACTIVE cluster with compare-and-swap,
// retrying on conflict.
func (s *Service) updateCluster(ctx context.Context, ref *string, mutate func(*flotilla.Cluster) error) (*flotilla.Cluster, error) {
	name, err := s.clusterName(ref)
	if err != nil {
		return nil, err
	}
	return update(ctx, s.store, flotilla.ClusterKey(name), func(c *flotilla.Cluster) error {
		if c == nil || c.Status != flotilla.StatusActive {
			return flotilla.Errorf(flotilla.EClusterNotFound, "Cluster not found.")
		}
		return nil
	}, mutate)
}

// activeCluster reads an ACTIVE cluster or fails with ClusterNotFound.
func (s *Service) activeCluster(ctx context.Context, name string) (*flotilla.Cluster, int64, error) {
	c, rev, err := store.GetJSON[flotilla.Cluster](ctx, s.store, flotilla.ClusterKey(name))
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Status != flotilla.StatusActive) {
		return nil, 0, flotilla.Errorf(flotilla.EClusterNotFound, "Cluster not found.")
	}
	return c, rev, err
}

// countInstances counts a cluster's ACTIVE and DRAINING instances.
func (s *Service) countInstances(ctx context.Context, cluster string) (int, error) {
	items, _, err := store.ListJSON[flotilla.ContainerInstance](ctx, s.store, flotilla.ClusterInstancesPrefix(cluster), store.ListOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, it := range items {
		if it.Value.Status == flotilla.InstanceActive || it.Value.Status == flotilla.InstanceDraining {
			n++
		}
	}
	return n, nil
}

func (s *Service) clusterToWire(ctx context.Context, c *flotilla.Cluster, include []wire.ClusterField) *wire.Cluster {
	rev, err := s.store.Rev(ctx)
	if err != nil {
		rev = -1 // no cached count is at revision -1
	}
	w := newClusterView(c).wire(s.activeInstances(ctx, c, rev), include)
	return &w
}

// activeInstances is the registeredContainerInstancesCount of a cluster as
// of store revision rev or later: its ACTIVE and DRAINING instances, 0 when
// it is not ACTIVE (or the count fails).
func (s *Service) activeInstances(ctx context.Context, c *flotilla.Cluster, rev int64) int {
	if c.Status != flotilla.StatusActive {
		return 0
	}
	n, err := s.instanceCount(ctx, c.Name, rev)
	if err != nil {
		return 0
	}
	return n
}

// clusterSettings validates the settings of a request.
func clusterSettings(in []wire.ClusterSetting) ([]flotilla.Setting, error) {
	var out []flotilla.Setting
	for _, st := range in {
		v := ptr.Deref(st.Value)
		if st.Name != wire.ClusterSettingNameContainerInsights {
			return nil, flotilla.Errorf(flotilla.EInvalid, "Invalid cluster setting name: %s.", st.Name)
		}
		if !slices.Contains([]string{"enabled", "disabled", "enhanced"}, v) {
			return nil, flotilla.Errorf(flotilla.EInvalid, "Invalid value for containerInsights: %q. Valid values are enabled, disabled and enhanced.", v)
		}
		out = append(out, flotilla.Setting{Name: string(st.Name), Value: v})
	}
	return out, nil
}

func hasSetting(settings []flotilla.Setting, name string) bool {
	return slices.ContainsFunc(settings, func(s flotilla.Setting) bool { return s.Name == name })
}

func mergeSettings(have, set []flotilla.Setting) []flotilla.Setting {
	out := append([]flotilla.Setting(nil), have...)
	for _, st := range set {
		i := slices.IndexFunc(out, func(o flotilla.Setting) bool { return o.Name == st.Name })
		if i >= 0 {
			out[i] = st
		} else {
			out = append(out, st)
		}
	}
	return out
}

func validateCapacityProviders(providers []string, strategy []wire.CapacityProviderStrategyItem) error {
	for _, p := range providers {
		if !slices.Contains(knownCapacityProviders, p) {
			return flotilla.Errorf(flotilla.EInvalid, "The specified capacity provider %s is not in an ACTIVE state. Specify a valid capacity provider and try again.", p)
		}
	}
	for i, item := range strategy {
		if !slices.Contains(providers, ptr.Deref(item.CapacityProvider)) {
			return flotilla.Errorf(flotilla.EInvalid, "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again (defaultCapacityProviderStrategy[%d]).", i)
		}
	}
	return nil
}
