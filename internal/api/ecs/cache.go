package ecs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// Read caches. The hot read operations (DescribeClusters,
// DescribeTaskDefinition) answer what the store holds, but avoid redoing
// work whose inputs have not changed:
//
//   - A record is decoded (and converted to its wire shape) once per
//     ModRevision: the value of a key at one ModRevision never changes.
//   - An answer is kept with the store revision it was read at, and reused
//     while the store is still at that revision, without reading the store
//     at all. The revision is read before the store is, and a backend
//     publishes a revision (Store.Rev) only once its writes are visible to
//     reads, so an answer tagged with revision r reflects at least every
//     write up to r; and every write the store has acknowledged has moved
//     its revision past r.
//
// Cached values are shared between requests and must not be modified.

// maxCached bounds each cache; a full cache is emptied (the hot set refills
// it at the cost of one miss each).
const maxCached = 4096

// readCaches are a Service's read caches. The zero value is ready to use.
type readCaches struct {
	clusterRecords revCache[clusterView] // by store key, at ModRevision
	clusters       revCache[clusterView] // by cluster name, at store revision
	instances      revCache[int]         // ACTIVE and DRAINING instances by cluster name, at store revision
	taskDefRecords revCache[taskDefView] // by store key, at ModRevision
	taskDefs       revCache[taskDefView] // by reference (family, family:revision, ARN), at store revision
}

// revCache maps keys to values, each valid at one revision.
type revCache[T any] struct {
	mu sync.RWMutex
	m  map[string]revValue[T]
}

type revValue[T any] struct {
	rev int64
	v   *T
}

// load returns the value of key cached at revision rev.
func (c *revCache[T]) load(key string, rev int64) (*T, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || e.rev != rev {
		return nil, false
	}
	return e.v, true
}

// store caches v as the value of key at revision rev, unless a value of a
// later revision is cached.
func (c *revCache[T]) store(key string, rev int64, v *T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.rev > rev {
		return
	}
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]revValue[T])
	}
	c.m[key] = revValue[T]{rev: rev, v: v}
}

// decoded returns the value decode makes of kv, decoding it only when it is
// not cached for kv's ModRevision.
func decoded[T any](c *revCache[T], kv *store.KV, decode func(*store.KV) (*T, error)) (*T, error) {
	if v, ok := c.load(kv.Key, kv.ModRevision); ok {
		return v, nil
	}
	v, err := decode(kv)
	if err != nil {
		return nil, err
	}
	c.store(kv.Key, kv.ModRevision, v)
	return v, nil
}

// clusterView is a cluster record with its wire shape prepared: base holds
// what DescribeClusters answers without include (but the instance count),
// the other fields what each include adds.
type clusterView struct {
	rec      *flotilla.Cluster
	base     wire.Cluster
	settings []wire.ClusterSetting
	config   *wire.ClusterConfiguration
	tags     []wire.Tag
}

var zeroCount = int32(0)

func newClusterView(c *flotilla.Cluster) *clusterView {
	v := &clusterView{
		rec: c,
		base: wire.Cluster{
			ClusterArn:                        &c.ARN,
			ClusterName:                       &c.Name,
			Status:                            &c.Status,
			RegisteredContainerInstancesCount: &zeroCount,
			RunningTasksCount:                 &zeroCount,
			PendingTasksCount:                 &zeroCount,
			ActiveServicesCount:               &zeroCount,
			Statistics:                        []wire.KeyValuePair{},
			Tags:                              []wire.Tag{},
			CapacityProviders:                 append([]string{}, c.CapacityProviders...),
			DefaultCapacityProviderStrategy:   fromRaw[[]wire.CapacityProviderStrategyItem](c.DefaultCapacityProviderStrategy),
		},
		settings: make([]wire.ClusterSetting, 0, len(c.Settings)),
		config:   fromRaw[*wire.ClusterConfiguration](c.Configuration),
		tags:     tagsToWire(c.Tags),
	}
	if v.base.DefaultCapacityProviderStrategy == nil {
		v.base.DefaultCapacityProviderStrategy = []wire.CapacityProviderStrategyItem{}
	}
	for _, st := range c.Settings {
		v.settings = append(v.settings, wire.ClusterSetting{Name: wire.ClusterSettingName(st.Name), Value: ptr.To(st.Value)})
	}
	if sc := fromRaw[*wire.ClusterServiceConnectDefaultsRequest](c.ServiceConnectDefaults); sc != nil {
		v.base.ServiceConnectDefaults = &wire.ClusterServiceConnectDefaults{Namespace: sc.Namespace}
	}
	return v
}

// clusterStatistics is what include=STATISTICS adds: no task or service is
// counted by launch type yet.
var clusterStatistics = func() []wire.KeyValuePair {
	var out []wire.KeyValuePair
	for _, k := range []string{"runningEC2TasksCount", "runningExternalTasksCount", "pendingEC2TasksCount", "pendingExternalTasksCount", "activeEC2ServiceCount", "activeExternalServiceCount", "drainingEC2ServiceCount", "drainingExternalServiceCount"} {
		out = append(out, wire.KeyValuePair{Name: ptr.To(k), Value: ptr.To("0")})
	}
	return out
}()

// wire returns the cluster in ECS's shape with the include fields and an
// instance count; it shares its parts with v.
func (v *clusterView) wire(instances int, include []wire.ClusterField) wire.Cluster {
	w := v.base
	if instances != 0 {
		w.RegisteredContainerInstancesCount = ptr.To(int32(instances))
	}
	if hasInclude(include, wire.ClusterFieldSettings) {
		w.Settings = v.settings
	}
	if hasInclude(include, wire.ClusterFieldConfigurations) {
		w.Configuration = v.config
	}
	if hasInclude(include, wire.ClusterFieldTags) {
		w.Tags = v.tags
	}
	if hasInclude(include, wire.ClusterFieldStatistics) {
		w.Statistics = clusterStatistics
	}
	return w
}

func decodeClusterView(kv *store.KV) (*clusterView, error) {
	c, err := store.DecodeJSON[flotilla.Cluster](kv)
	if err != nil {
		return nil, err
	}
	return newClusterView(c), nil
}

// taskDefView is a task definition revision with its wire shape.
type taskDefView struct {
	rec  *flotilla.TaskDefinition
	wire *wire.TaskDefinition
	tags []wire.Tag
}

func decodeTaskDefView(kv *store.KV) (*taskDefView, error) {
	rec, err := store.DecodeJSON[flotilla.TaskDefinition](kv)
	if err != nil {
		return nil, err
	}
	return &taskDefView{rec: rec, wire: taskDefToWire(rec), tags: tagsToWire(rec.Tags)}, nil
}

// instanceCount returns the number of a cluster's ACTIVE and DRAINING
// instances as of store revision rev or later, counting them again only
// when the store has moved.
func (s *Service) instanceCount(ctx context.Context, cluster string, rev int64) (int, error) {
	if n, ok := s.reads.instances.load(cluster, rev); ok {
		return *n, nil
	}
	kvs, listRev, err := s.store.List(ctx, flotilla.ClusterInstancesPrefix(cluster), store.ListOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range kvs {
		var inst struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(kvs[i].Value, &inst); err != nil {
			return 0, fmt.Errorf("decode %s: %w", kvs[i].Key, err)
		}
		if inst.Status == flotilla.InstanceActive || inst.Status == flotilla.InstanceDraining {
			n++
		}
	}
	// The count is exact at the list's own revision.
	s.reads.instances.store(cluster, listRev, &n)
	return n, nil
}
