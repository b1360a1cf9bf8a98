// Package flotilla holds Flotilla's domain: the records the control plane
// keeps (clusters, container instances, task definitions, tasks, services,
// account settings), their ARNs and store keys, their validation rules, the
// rules of their lifecycles (a task's states, a service's deployments), and
// the domain errors that the API layer maps to AWS error codes.
package flotilla

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Version is the Flotilla release, set at build time with -ldflags.
var Version = "0.1.0-dev"

// AgentVersion is the ECS agent version Flotilla's agent reports.
const AgentVersion = "1.0.0"

// Account names where resources live: ARNs are built from it.
type Account struct {
	Region string
	ID     string
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// Validate reports a malformed region or account id.
func (a Account) Validate() error {
	if !accountIDPattern.MatchString(a.ID) {
		return fmt.Errorf("account id %q must be 12 digits", a.ID)
	}
	return ValidateRegion(a.Region)
}

// ARN builds an ECS ARN for a resource path such as "cluster/demo".
func (a Account) ARN(resource string) string { return a.ARNOf("ecs", resource) }

// ARNOf builds the ARN of a resource of an AWS service in a's region
// and account, in the region's partition: the one place ARNs are made.
func (a Account) ARNOf(service, resource string) string {
	return "arn:" + PartitionOf(a.Region) + ":" + service + ":" + a.Region + ":" + a.ID + ":" + resource
}

// Owns reports whether an ARN of service names a resource of a: its
// partition, service, region and account are a's. The resources of other
// accounts and regions are not here: an ARN naming them refers to nothing.
func (a Account) Owns(service, arn string) bool {
	parts := strings.SplitN(arn, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[1] == PartitionOf(a.Region) &&
		parts[2] == service && parts[3] == a.Region && parts[4] == a.ID
}

// ClusterARN is the ARN of the named cluster.
func (a Account) ClusterARN(name string) string { return a.ARN("cluster/" + name) }

// ContainerInstanceARN is the ARN of a container instance in the long format.
func (a Account) ContainerInstanceARN(cluster, id string) string {
	return a.ARN("container-instance/" + cluster + "/" + id)
}

// TaskDefinitionARN is the ARN of one revision of a family.
func (a Account) TaskDefinitionARN(family string, revision int) string {
	return a.ARN(fmt.Sprintf("task-definition/%s:%d", family, revision))
}

// RootPrincipal is the ARN of the account's root user, the principal every
// credential acts as.
func (a Account) RootPrincipal() string {
	return "arn:" + PartitionOf(a.Region) + ":iam::" + a.ID + ":root"
}

// ParsedARN is an ECS ARN split into its parts.
type ParsedARN struct {
	Partition, Region, Account string
	// Type is the resource type: cluster, container-instance, task-definition, task, service.
	Type string
	// Path is what follows the type: "demo", "demo/abc123", "web:3".
	Path string
}

// ParseARN splits an ECS ARN. ok is false when s is not one.
func ParseARN(s string) (p ParsedARN, ok bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ecs" {
		return p, false
	}
	res := parts[5]
	i := strings.IndexByte(res, '/')
	if i <= 0 || i == len(res)-1 {
		return p, false
	}
	return ParsedARN{Partition: parts[1], Region: parts[3], Account: parts[4], Type: res[:i], Path: res[i+1:]}, true
}

// NewID returns a random 32-hex-digit id, the form ECS uses for container
// instances and tasks.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// NewAccessKey returns a new access key pair in AWS's format: the id is the
// prefix (such as "AKIA") and 16 characters of A–Z and 2–7, the secret 40
// characters of base64's alphabet.
func NewAccessKey(prefix string) (accessKeyID, secretAccessKey string) {
	return prefix + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
