package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/store"
)

// RegisterContainerInstance registers a host as a container instance, or
// re-registers the one named by containerInstanceArn (an agent restarting).
func (s *Service) RegisterContainerInstance(ctx context.Context, in *wire.RegisterContainerInstanceRequest) (*wire.RegisterContainerInstanceResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, flotilla.Errorf(flotilla.EClient, "Cluster not found.")
	}
	res, err := checkResources(in.TotalResources)
	if err != nil {
		return nil, err
	}
	attrs, err := attributesFromWire(in.Attributes)
	if err != nil {
		return nil, err
	}
	tags := tagsFromWire(in.Tags)
	if err := flotilla.ValidateTags(tags); err != nil {
		return nil, err
	}
	ec2ID, address := "", ""
	if doc := ptr.Deref(in.InstanceIdentityDocument); doc != "" {
		var id struct {
			InstanceID string `json:"instanceId"`
			PrivateIP  string `json:"privateIp"`
		}
		if err := json.Unmarshal([]byte(doc), &id); err != nil {
			return nil, flotilla.Errorf(flotilla.EInvalid, "instanceIdentityDocument is not a valid JSON document.")
		}
		if id.PrivateIP != "" {
			if _, err := netip.ParseAddr(id.PrivateIP); err != nil {
				return nil, flotilla.Errorf(flotilla.EInvalid, "instanceIdentityDocument privateIp %q is not an IP address.", id.PrivateIP)
			}
		}
		ec2ID, address = id.InstanceID, id.PrivateIP
	}
	id := flotilla.NewID()
	if arn := ptr.Deref(in.ContainerInstanceArn); arn != "" {
		if s.foreign(arn) {
			// As for an instance this region no longer has: an agent moved
			// to another region registers anew.
			return nil, flotilla.Errorf(flotilla.EInvalid, "Container instance %s not found.", arn)
		}
		c, iid, err := s.instanceRef(cluster, arn)
		if err != nil {
			return nil, err
		}
		if c != cluster {
			return nil, flotilla.Errorf(flotilla.EInvalid, "containerInstanceArn %s belongs to cluster %s.", arn, c)
		}
		id = iid
	}
	if caller := callerInstance(ctx); caller != "" && (ptr.Deref(in.ContainerInstanceArn) == "" || caller != s.acct.ContainerInstanceARN(cluster, id)) {
		return nil, flotilla.Errorf(flotilla.EAccessDenied, "Instance credentials may only re-register their own container instance.")
	}
	if ec2ID == "" {
		ec2ID = "i-" + id[:17]
	}
	key := flotilla.InstanceKey(cluster, id)
	for {
		old, rev, err := store.GetJSON[flotilla.ContainerInstance](ctx, s.store, key)
		if errors.Is(err, store.ErrNotFound) {
			if ptr.Deref(in.ContainerInstanceArn) != "" {
				return nil, flotilla.Errorf(flotilla.EInvalid, "Container instance %s not found.", ptr.Deref(in.ContainerInstanceArn))
			}
			old, rev, err = nil, 0, nil
		}
		if err != nil {
			return nil, err
		}
		ci := flotilla.ContainerInstance{
			ID: id, ARN: s.acct.ContainerInstanceARN(cluster, id), Cluster: cluster, EC2InstanceID: ec2ID, Address: address,
			Status: flotilla.InstanceActive, RegisteredResources: res, RemainingResources: res,
			VersionInfo: versionFromWire(in.VersionInfo), Tags: tags, RegisteredAt: s.now().UTC(), Version: 1,
		}
		if old != nil {
			ci.RegisteredAt, ci.Version, ci.Tags = old.RegisteredAt, old.Version+1, flotilla.MergeTags(old.Tags, tags)
			ci.Attributes, ci.AgentConnected = old.Attributes, old.AgentConnected
			ci.DisconnectedAt, ci.LinkID = old.DisconnectedAt, old.LinkID
			if old.Status == flotilla.InstanceDraining {
				ci.Status = old.Status
			}
			// The instance's tasks still hold what they reserved: account
			// for them again against the (possibly new) capacity. A
			// placement racing this write changes the instance, so the
			// compare-and-swap below catches it.
			if err := s.reaccount(ctx, &ci); err != nil {
				return nil, err
			}
		}
		if err := ci.PutAttributes(attrs); err != nil {
			return nil, err
		}
		var ops []store.Op
		if old != nil && old.AgentKeyID != "" {
			ci.AgentKeyID = old.AgentKeyID
		} else {
			k, op := issueInstanceKey(cluster, id)
			ci.AgentKeyID = k.AccessKeyID
			ops = append(ops, op)
		}
		_, err = s.store.Txn(ctx, store.Txn{
			Compares: []store.Compare{{Key: key, ModRevision: rev}},
			Ops:      append(ops, putJSON(key, ci)),
		})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &wire.RegisterContainerInstanceResponse{ContainerInstance: instanceToWire(&ci, true)}, nil
	}
}

// reaccount recomputes an instance's remaining resources and task counts
// from its tasks that are not STOPPED.
func (s *Service) reaccount(ctx context.Context, ci *flotilla.ContainerInstance) error {
	items, _, err := store.ListJSON[flotilla.Task](ctx, s.store, flotilla.ClusterTasksPrefix(ci.Cluster), store.ListOptions{})
	if err != nil {
		return err
	}
	tasks := make([]flotilla.Task, 0, len(items))
	for _, it := range items {
		tasks = append(tasks, it.Value)
	}
	ci.Reaccount(tasks)
	return nil
}

// DeregisterContainerInstance marks an instance INACTIVE; it stays
// describable.
func (s *Service) DeregisterContainerInstance(ctx context.Context, in *wire.DeregisterContainerInstanceRequest) (*wire.DeregisterContainerInstanceResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	ci, err := s.updateInstance(ctx, cluster, ptr.Deref(in.ContainerInstance), func(ci *flotilla.ContainerInstance) error {
		if ci.Status == flotilla.InstanceInactive {
			return flotilla.Errorf(flotilla.EInvalid, "Container instance %s is already deregistered.", ci.ARN)
		}
		if ci.RunningTasksCount+ci.PendingTasksCount > 0 && !ptr.Deref(in.Force) {
			return flotilla.Errorf(flotilla.EInvalid, "Found running tasks on the instance. Use force to deregister it anyway.")
		}
		ci.Status = flotilla.InstanceInactive
		ci.AgentConnected = false
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ci.AgentKeyID != "" {
		// The instance's credentials end with it.
		if _, err := s.store.Txn(ctx, store.Txn{Ops: []store.Op{{Key: instanceKeyKey(ci.AgentKeyID), Delete: true}}}); err != nil {
			return nil, err
		}
	}
	return &wire.DeregisterContainerInstanceResponse{ContainerInstance: instanceToWire(ci, true)}, nil
}

// DescribeContainerInstances describes instances by id or ARN; unknown ones
// come back in failures with reason MISSING.
func (s *Service) DescribeContainerInstances(ctx context.Context, in *wire.DescribeContainerInstancesRequest) (*wire.DescribeContainerInstancesResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	if len(in.ContainerInstances) > 100 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "containerInstances can have at most 100 items.")
	}
	withTags := hasInclude(in.Include, wire.ContainerInstanceFieldTags)
	cis, failures, err := describe(in.ContainerInstances,
		func(ref string) (*flotilla.ContainerInstance, error) {
			ci, _, err := s.getInstance(ctx, cluster, ref)
			return ci, err
		},
		func(ref string) string {
			return arnOr(ref, func(id string) string { return s.acct.ContainerInstanceARN(cluster, id) })
		},
		func(ci *flotilla.ContainerInstance) wire.ContainerInstance { return *instanceToWire(ci, withTags) })
	if err != nil {
		return nil, err
	}
	return &wire.DescribeContainerInstancesResponse{ContainerInstances: cis, Failures: failures}, nil
}

// ListContainerInstances lists instance ARNs, by status; without one, every
// status but INACTIVE.
func (s *Service) ListContainerInstances(ctx context.Context, in *wire.ListContainerInstancesRequest) (*wire.ListContainerInstancesResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	var filter *scheduler.Query
	if f := ptr.Deref(in.Filter); f != "" {
		q, err := scheduler.ParseQuery(f)
		if err != nil {
			return nil, err
		}
		filter = q
	}
	p, err := parsePage(in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	items, _, err := store.ListJSON[flotilla.ContainerInstance](ctx, s.store, flotilla.ClusterInstancesPrefix(cluster), store.ListOptions{})
	if err != nil {
		return nil, err
	}
	var groups map[string][]string
	if filter != nil {
		tasks, _, err := store.ListJSON[flotilla.Task](ctx, s.store, flotilla.ClusterTasksPrefix(cluster), store.ListOptions{})
		if err != nil {
			return nil, err
		}
		all := make([]flotilla.Task, len(tasks))
		for i := range tasks {
			all[i] = tasks[i].Value
		}
		groups = scheduler.GroupsByInstance(all)
	}
	var keep []flotilla.ContainerInstance
	for _, it := range items {
		st := it.Value.Status
		if (in.Status == "" && st != flotilla.InstanceInactive) || st == string(in.Status) {
			if filter == nil || filter.Match(&it.Value, groups[it.Value.ID]) {
				keep = append(keep, it.Value)
			}
		}
	}
	pageItems, next := paginate(keep, func(c flotilla.ContainerInstance) string { return c.ID }, p)
	out := &wire.ListContainerInstancesResponse{ContainerInstanceArns: []string{}, NextToken: next}
	for _, c := range pageItems {
		out.ContainerInstanceArns = append(out.ContainerInstanceArns, c.ARN)
	}
	return out, nil
}

// UpdateContainerInstancesState sets instances ACTIVE or DRAINING.
func (s *Service) UpdateContainerInstancesState(ctx context.Context, in *wire.UpdateContainerInstancesStateRequest) (*wire.UpdateContainerInstancesStateResponse, error) {
	cluster, err := s.clusterName(in.Cluster)
	if err != nil {
		return nil, err
	}
	if in.Status != wire.ContainerInstanceStatusActive && in.Status != wire.ContainerInstanceStatusDraining {
		return nil, flotilla.Errorf(flotilla.EInvalid, "Container instances can only be set to ACTIVE or DRAINING.")
	}
	if len(in.ContainerInstances) > 10 {
		return nil, flotilla.Errorf(flotilla.EInvalid, "containerInstances can have at most 10 items.")
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return nil, err
	}
	out := &wire.UpdateContainerInstancesStateResponse{ContainerInstances: []wire.ContainerInstance{}, Failures: []wire.Failure{}}
	for _, ref := range in.ContainerInstances {
		ci, err := s.updateInstance(ctx, cluster, ref, func(ci *flotilla.ContainerInstance) error {
			if ci.Status != flotilla.InstanceActive && ci.Status != flotilla.InstanceDraining {
				return flotilla.Errorf(flotilla.EInvalid, "INACTIVE")
			}
			ci.Status = string(in.Status)
			return nil
		})
		var de *flotilla.Error
		if errors.As(err, &de) {
			reason := "MISSING"
			if de.Code == flotilla.EInvalid {
				reason = de.Message
			}
			arn := arnOr(ref, func(id string) string { return s.acct.ContainerInstanceARN(cluster, id) })
			out.Failures = append(out.Failures, wire.Failure{Arn: ptr.To(arn), Reason: ptr.To(reason)})
			continue
		}
		if err != nil {
			return nil, err
		}
		out.ContainerInstances = append(out.ContainerInstances, *instanceToWire(ci, false))
	}
	return out, nil
}

// instanceRef resolves an instance id or ARN to its cluster and id.
func (s *Service) instanceRef(cluster, ref string) (string, string, error) {
	if s.foreign(ref) {
		return "", "", flotilla.Errorf(flotilla.ETargetNotFound, "Container instance %s not found.", ref)
	}
	if p, ok := flotilla.ParseARN(ref); ok {
		if p.Type != "container-instance" {
			return "", "", flotilla.Errorf(flotilla.EInvalid, "Invalid container instance ARN: %s", ref)
		}
		c, id, found := strings.Cut(p.Path, "/")
		if !found {
			id, c = c, cluster // the short ARN format has no cluster
		}
		return c, id, nil
	}
	if ref == "" || strings.ContainsAny(ref, "/:") {
		return "", "", flotilla.Errorf(flotilla.EInvalid, "Invalid container instance id: %q", ref)
	}
	return cluster, ref, nil
}

func (s *Service) getInstance(ctx context.Context, cluster, ref string) (*flotilla.ContainerInstance, int64, error) {
	c, id, err := s.instanceRef(cluster, ref)
	if err != nil {
		return nil, 0, err
	}
	if c != cluster {
		return nil, 0, flotilla.Errorf(flotilla.ETargetNotFound, "Container instance %s is not in cluster %s.", ref, cluster)
	}
	ci, rev, err := store.GetJSON[flotilla.ContainerInstance](ctx, s.store, flotilla.InstanceKey(cluster, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, flotilla.Errorf(flotilla.ETargetNotFound, "Container instance %s not found.", ref)
	}
	return ci, rev, err
}

// updateInstance applies mutate to an instance with compare-and-swap and
// bumps its version.
func (s *Service) updateInstance(ctx context.Context, cluster, ref string, mutate func(*flotilla.ContainerInstance) error) (*flotilla.ContainerInstance, error) {
	c, id, err := s.instanceRef(cluster, ref)
	if err != nil {
		return nil, err
	}
	if c != cluster {
		return nil, flotilla.Errorf(flotilla.ETargetNotFound, "Container instance %s is not in cluster %s.", ref, cluster)
	}
	return update(ctx, s.store, flotilla.InstanceKey(cluster, id), func(ci *flotilla.ContainerInstance) error {
		if ci == nil {
			return flotilla.Errorf(flotilla.ETargetNotFound, "Container instance %s not found.", ref)
		}
		return nil
	}, func(ci *flotilla.ContainerInstance) error {
		if err := mutate(ci); err != nil {
			return err
		}
		ci.Version++
		return nil
	})
}

// checkResources validates an agent's totalResources: CPU and MEMORY as
// INTEGER; PORTS and PORTS_UDP as STRINGSET (defaulting PORTS to ECS's
// reserved ports).
func checkResources(in []wire.Resource) ([]flotilla.Resource, error) {
	res := resourcesFromWire(in)
	have := map[string]bool{}
	for i, r := range res {
		if have[r.Name] {
			return nil, flotilla.Errorf(flotilla.EInvalid, "Duplicate resource %s in totalResources.", r.Name)
		}
		have[r.Name] = true
		switch r.Name {
		case "CPU", "MEMORY":
			if r.Type != "INTEGER" || r.IntegerValue < 0 {
				return nil, flotilla.Errorf(flotilla.EInvalid, "Resource %s must be of type INTEGER with a non-negative integerValue.", r.Name)
			}
		case "PORTS", "PORTS_UDP":
			if r.Type != "STRINGSET" {
				return nil, flotilla.Errorf(flotilla.EInvalid, "Resource %s must be of type STRINGSET.", r.Name)
			}
			for _, p := range r.StringSetValue {
				var n int
				if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != p {
					return nil, flotilla.Errorf(flotilla.EInvalid, "Invalid port %q in resource %s.", p, r.Name)
				}
			}
		}
		res[i] = r
	}
	if !have["CPU"] {
		res = append(res, flotilla.Resource{Name: "CPU", Type: "INTEGER"})
	}
	if !have["MEMORY"] {
		res = append(res, flotilla.Resource{Name: "MEMORY", Type: "INTEGER"})
	}
	if !have["PORTS"] {
		res = append(res, flotilla.Resource{Name: "PORTS", Type: "STRINGSET", StringSetValue: flotilla.DefaultReservedPorts})
	}
	if !have["PORTS_UDP"] {
		res = append(res, flotilla.Resource{Name: "PORTS_UDP", Type: "STRINGSET", StringSetValue: []string{}})
	}
	return res, nil
}

func attributesFromWire(in []wire.Attribute) ([]flotilla.Attribute, error) {
	out := make([]flotilla.Attribute, 0, len(in))
	for _, a := range in {
		fa := flotilla.Attribute{Name: ptr.Deref(a.Name), Value: a.Value}
		if err := flotilla.ValidateAttribute(fa); err != nil {
			return nil, err
		}
		out = append(out, fa)
	}
	return out, nil
}

func versionFromWire(v *wire.VersionInfo) flotilla.VersionInfo {
	if v == nil {
		return flotilla.VersionInfo{}
	}
	return flotilla.VersionInfo{AgentVersion: ptr.Deref(v.AgentVersion), AgentHash: ptr.Deref(v.AgentHash), DockerVersion: ptr.Deref(v.DockerVersion)}
}

func instanceToWire(ci *flotilla.ContainerInstance, withTags bool) *wire.ContainerInstance {
	w := &wire.ContainerInstance{
		ContainerInstanceArn: ptr.To(ci.ARN),
		Ec2InstanceId:        ptr.To(ci.EC2InstanceID),
		Version:              ptr.To(ci.Version),
		VersionInfo: &wire.VersionInfo{AgentVersion: ptr.To(ci.VersionInfo.AgentVersion),
			AgentHash: ptr.To(ci.VersionInfo.AgentHash), DockerVersion: ptr.To(ci.VersionInfo.DockerVersion)},
		RemainingResources:  resourcesToWire(ci.RemainingResources),
		RegisteredResources: resourcesToWire(ci.RegisteredResources),
		Status:              ptr.To(ci.Status),
		AgentConnected:      ptr.To(ci.AgentConnected),
		RunningTasksCount:   ptr.To(ci.RunningTasksCount),
		PendingTasksCount:   ptr.To(ci.PendingTasksCount),
		Attributes:          []wire.Attribute{},
		RegisteredAt:        model.NewTime(ci.RegisteredAt),
		Attachments:         []wire.Attachment{},
	}
	if ci.StatusReason != "" {
		w.StatusReason = ptr.To(ci.StatusReason)
	}
	if ci.CapacityProviderName != "" {
		w.CapacityProviderName = ptr.To(ci.CapacityProviderName)
	}
	for _, a := range ci.Attributes {
		w.Attributes = append(w.Attributes, wire.Attribute{Name: ptr.To(a.Name), Value: a.Value})
	}
	if withTags {
		w.Tags = tagsToWire(ci.Tags)
	}
	return w
}
