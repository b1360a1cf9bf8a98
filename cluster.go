package flotilla

import (
	"encoding/json"
	"regexp"
	"time"
)

// Cluster statuses.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// Tag is a key-value label on a taggable resource.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Setting is a named setting of a cluster, such as containerInsights.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Cluster is a logical group of container instances, services and tasks.
type Cluster struct {
	Name              string    `json:"name"`
	ARN               string    `json:"arn"`
	Status            string    `json:"status"`
	Settings          []Setting `json:"settings,omitempty"`
	CapacityProviders []string  `json:"capacityProviders,omitempty"`
	// DefaultCapacityProviderStrategy, Configuration and
	// ServiceConnectDefaults are kept in ECS's own JSON: the control plane
	// stores them and gives them back.
	DefaultCapacityProviderStrategy json.RawMessage `json:"defaultCapacityProviderStrategy,omitempty"`
	Configuration                   json.RawMessage `json:"configuration,omitempty"`
	ServiceConnectDefaults          json.RawMessage `json:"serviceConnectDefaults,omitempty"`
	Tags                            []Tag           `json:"tags,omitempty"`
	CreatedAt                       time.Time       `json:"createdAt"`
}

var clusterNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

// ValidClusterName reports whether name is a valid cluster name: up to 255
// letters, numbers, hyphens and underscores.
func ValidClusterName(name string) bool { return clusterNamePattern.MatchString(name) }

// DefaultClusterName is the cluster used when a request names none.
const DefaultClusterName = "default"

// ClusterKey is the store key of a cluster.
func ClusterKey(name string) string { return ClustersPrefix + name }

// ClustersPrefix is the store prefix of all clusters.
const ClustersPrefix = "/ecs/clusters/"
