package flotilla

import (
	"regexp"
	"strings"
	"time"
)

// Container instance statuses, as ECS names them.
const (
	InstanceActive        = "ACTIVE"
	InstanceDraining      = "DRAINING"
	InstanceRegistering   = "REGISTERING"
	InstanceDeregistering = "DEREGISTERING"
	InstanceInactive      = "INACTIVE"
)

// Resource is one kind of capacity of a container instance: CPU and MEMORY
// (INTEGER), PORTS and PORTS_UDP (STRINGSET of reserved port numbers).
type Resource struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	IntegerValue   int32    `json:"integerValue,omitempty"`
	LongValue      int64    `json:"longValue,omitempty"`
	DoubleValue    float64  `json:"doubleValue,omitempty"`
	StringSetValue []string `json:"stringSetValue,omitempty"`
}

// Attribute is a name (and optional value) attached to a container instance,
// used by placement constraints.
type Attribute struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}

// VersionInfo names the agent and Docker versions of an instance.
type VersionInfo struct {
	AgentVersion  string `json:"agentVersion,omitempty"`
	AgentHash     string `json:"agentHash,omitempty"`
	DockerVersion string `json:"dockerVersion,omitempty"`
}

// ContainerInstance is a host running the agent, registered in a cluster.
type ContainerInstance struct {
	ID            string `json:"id"`
	ARN           string `json:"arn"`
	Cluster       string `json:"cluster"`
	EC2InstanceID string `json:"ec2InstanceId,omitempty"`
	// Address is where the host's published ports (tasks' host ports) are
	// reachable: the privateIp of the identity document the agent
	// registered with. Empty means 127.0.0.1.
	Address             string      `json:"address,omitempty"`
	Status              string      `json:"status"`
	StatusReason        string      `json:"statusReason,omitempty"`
	AgentConnected      bool        `json:"agentConnected"`
	RegisteredResources []Resource  `json:"registeredResources,omitempty"`
	RemainingResources  []Resource  `json:"remainingResources,omitempty"`
	Attributes          []Attribute `json:"attributes,omitempty"`
	VersionInfo         VersionInfo `json:"versionInfo"`
	Tags                []Tag       `json:"tags,omitempty"`
	RegisteredAt        time.Time   `json:"registeredAt"`
	// Version counts changes to the instance, as ECS's version field does.
	Version              int64  `json:"version"`
	RunningTasksCount    int32  `json:"runningTasksCount"`
	PendingTasksCount    int32  `json:"pendingTasksCount"`
	CapacityProviderName string `json:"capacityProviderName,omitempty"`
	// DisconnectedAt is when the agent's link last dropped (zero while
	// connected).
	DisconnectedAt time.Time `json:"disconnectedAt,omitzero"`
	// LinkID names the agent's current link, so that the end of an old link
	// cannot mark a reconnected agent disconnected.
	LinkID string `json:"linkId,omitempty"`
	// AgentKeyID names the credentials issued to the instance's agent.
	AgentKeyID string `json:"agentKeyId,omitempty"`
}

// InstancesPrefix is the store prefix of all container instances.
const InstancesPrefix = "/ecs/instances/"

// InstanceKey is the store key of a container instance.
func InstanceKey(cluster, id string) string { return InstancesPrefix + cluster + "/" + id }

// ClusterInstancesPrefix is the store prefix of one cluster's instances.
func ClusterInstancesPrefix(cluster string) string { return InstancesPrefix + cluster + "/" }

// DefaultReservedPorts are the TCP ports ECS reserves on every instance.
var DefaultReservedPorts = []string{"22", "2375", "2376", "51678", "51679", "51680"}

// MaxCustomAttributes is the most custom (non "ecs.") attributes a resource
// may carry.
const MaxCustomAttributes = 10

// BuiltinAttribute reports whether an attribute is one ECS and its agents
// set (ecs.* and com.amazonaws.ecs.*) rather than a custom one.
func BuiltinAttribute(name string) bool {
	return strings.HasPrefix(name, "ecs.") || strings.HasPrefix(name, "com.amazonaws.ecs.")
}

var (
	attrNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9_./\\-]{1,128}$`)
	attrValuePattern = regexp.MustCompile(`^[a-zA-Z0-9_.@/\\: -]{1,128}$`)
)

// ValidateAttribute checks an attribute's name and value against ECS's rules.
func ValidateAttribute(a Attribute) error {
	if !attrNamePattern.MatchString(a.Name) {
		return Errorf(EInvalid, "Attribute name %q is invalid: attribute names must contain 1-128 characters: letters, numbers, hyphens, underscores, forward slashes, back slashes, or periods.", a.Name)
	}
	if a.Value != nil {
		v := *a.Value
		if !attrValuePattern.MatchString(v) || strings.TrimSpace(v) != v {
			return Errorf(EInvalid, "Attribute value %q is invalid: attribute values must contain 1-128 characters: letters, numbers, hyphens, underscores, periods, at signs, forward slashes, back slashes, colons, or spaces, and cannot start or end with a space.", v)
		}
	}
	return nil
}

// PutAttributes sets attributes by name, replacing values of existing ones,
// and enforces the custom attribute limit.
func (ci *ContainerInstance) PutAttributes(attrs []Attribute) error {
	for _, a := range attrs {
		found := false
		for i := range ci.Attributes {
			if ci.Attributes[i].Name == a.Name {
				ci.Attributes[i].Value = a.Value
				found = true
				break
			}
		}
		if !found {
			ci.Attributes = append(ci.Attributes, a)
		}
	}
	custom := 0
	for _, a := range ci.Attributes {
		if !BuiltinAttribute(a.Name) {
			custom++
		}
	}
	if custom > MaxCustomAttributes {
		return Errorf(EAttributeLimitExceeded, "You can apply up to %d custom attributes per resource.", MaxCustomAttributes)
	}
	return nil
}

// DeleteAttributes removes the named attributes; it reports the first name
// that the instance does not carry.
func (ci *ContainerInstance) DeleteAttributes(names []string) error {
	for _, n := range names {
		idx := -1
		for i := range ci.Attributes {
			if ci.Attributes[i].Name == n {
				idx = i
				break
			}
		}
		if idx < 0 {
			return Errorf(ETargetNotFound, "Attribute %s was not found on target %s.", n, ci.ARN)
		}
		ci.Attributes = append(ci.Attributes[:idx], ci.Attributes[idx+1:]...)
	}
	return nil
}

// Placement failure reasons, as ECS reports them.
const (
	ReasonCPU      = "RESOURCE:CPU"
	ReasonMemory   = "RESOURCE:MEMORY"
	ReasonPorts    = "RESOURCE:PORTS"
	ReasonPortsUDP = "RESOURCE:PORTS_UDP"
	ReasonAgent    = "AGENT"
	ReasonMissing  = "MISSING"
	ReasonInactive = "INACTIVE"
)

func (ci *ContainerInstance) remaining(name string) *Resource {
	for i := range ci.RemainingResources {
		if ci.RemainingResources[i].Name == name {
			return &ci.RemainingResources[i]
		}
	}
	ci.RemainingResources = append(ci.RemainingResources, Resource{Name: name, Type: "INTEGER"})
	if name == "PORTS" || name == "PORTS_UDP" {
		ci.RemainingResources[len(ci.RemainingResources)-1].Type = "STRINGSET"
	}
	return &ci.RemainingResources[len(ci.RemainingResources)-1]
}

// Fit returns "" when the reservation fits the instance's remaining
// resources, and otherwise the ECS reason it does not.
func (ci *ContainerInstance) Fit(r Reservation) string {
	if int(ci.remaining("CPU").IntegerValue) < r.CPU {
		return ReasonCPU
	}
	if int(ci.remaining("MEMORY").IntegerValue) < r.MemoryMiB {
		return ReasonMemory
	}
	if overlaps(ci.remaining("PORTS").StringSetValue, r.Ports) {
		return ReasonPorts
	}
	if overlaps(ci.remaining("PORTS_UDP").StringSetValue, r.UDPPorts) {
		return ReasonPortsUDP
	}
	return ""
}

// Reserve takes a reservation out of the remaining resources.
func (ci *ContainerInstance) Reserve(r Reservation) {
	ci.remaining("CPU").IntegerValue -= int32(r.CPU)
	ci.remaining("MEMORY").IntegerValue -= int32(r.MemoryMiB)
	p := ci.remaining("PORTS")
	p.StringSetValue = append(append([]string{}, p.StringSetValue...), r.Ports...)
	u := ci.remaining("PORTS_UDP")
	u.StringSetValue = append(append([]string{}, u.StringSetValue...), r.UDPPorts...)
}

// Release gives a reservation back.
func (ci *ContainerInstance) Release(r Reservation) {
	ci.remaining("CPU").IntegerValue += int32(r.CPU)
	ci.remaining("MEMORY").IntegerValue += int32(r.MemoryMiB)
	p := ci.remaining("PORTS")
	p.StringSetValue = without(p.StringSetValue, r.Ports)
	u := ci.remaining("PORTS_UDP")
	u.StringSetValue = without(u.StringSetValue, r.UDPPorts)
}

func overlaps(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}

// without removes one occurrence of each of drop from have.
func without(have, drop []string) []string {
	out := append([]string{}, have...)
	for _, d := range drop {
		for i, h := range out {
			if h == d {
				out = append(out[:i], out[i+1:]...)
				break
			}
		}
	}
	return out
}
