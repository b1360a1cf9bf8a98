package flotilla

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Task definition statuses.
const (
	TaskDefinitionActive           = "ACTIVE"
	TaskDefinitionInactive         = "INACTIVE"
	TaskDefinitionDeleteInProgress = "DELETE_IN_PROGRESS"
)

// Store layout of task definitions: one key per revision, and one key per
// family that holds the family's last revision number (the counter every
// registration compares and swaps).
const (
	TaskDefinitionsPrefix = "/ecs/taskdefs/"
	FamiliesPrefix        = "/ecs/families/"
)

// TaskDefinitionKey is the store key of one revision; revisions are zero
// padded so that keys sort by revision.
func TaskDefinitionKey(family string, revision int) string {
	return fmt.Sprintf("%s%s/%010d", TaskDefinitionsPrefix, family, revision)
}

// FamilyTaskDefinitionsPrefix is the store prefix of one family's revisions.
func FamilyTaskDefinitionsPrefix(family string) string { return TaskDefinitionsPrefix + family + "/" }

// FamilyKey is the store key of a family's revision counter.
func FamilyKey(family string) string { return FamiliesPrefix + family }

// Family is a task definition family's revision counter.
type Family struct {
	Name         string `json:"name"`
	LastRevision int    `json:"lastRevision"`
}

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

// ValidName reports whether s is a valid family or container name: up to 255
// letters, numbers, hyphens and underscores.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// TaskDefinitionRef is what a request names a task definition by: a family
// (latest ACTIVE revision), family:revision, or an ARN.
type TaskDefinitionRef struct {
	Family   string
	Revision int // 0: latest ACTIVE
}

// ParseTaskDefinitionRef parses "family", "family:3" or a task definition ARN.
func ParseTaskDefinitionRef(s string) (TaskDefinitionRef, error) {
	if p, ok := ParseARN(s); ok {
		if p.Type != "task-definition" {
			return TaskDefinitionRef{}, Errorf(EInvalid, "Invalid task definition ARN: %s", s)
		}
		s = p.Path
	}
	fam, rev, hasRev := strings.Cut(s, ":")
	if !ValidName(fam) {
		return TaskDefinitionRef{}, Errorf(EClient, "Invalid family: %q. Family names can contain up to 255 letters, numbers, hyphens, and underscores.", fam)
	}
	ref := TaskDefinitionRef{Family: fam}
	if hasRev {
		n, err := strconv.Atoi(rev)
		if err != nil || n < 1 {
			return TaskDefinitionRef{}, Errorf(EClient, "Invalid revision number. Number: %s", rev)
		}
		ref.Revision = n
	}
	return ref, nil
}

// ParseTaskCPU turns a task-level cpu value ("256", "1024", "1 vCPU",
// "0.5 vcpu") into CPU units, 1024 per vCPU.
func ParseTaskCPU(s string) (int, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	if v, ok := strings.CutSuffix(t, "vcpu"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || f > 192 {
			return 0, Errorf(EClient, "Invalid 'cpu' setting for task: %q.", s)
		}
		return int(math.Round(f * 1024)), nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 128 || n > 196608 {
		return 0, Errorf(EClient, "Invalid 'cpu' setting for task: %q. Specify CPU units (128 to 196608) or vCPUs such as '1 vCPU'.", s)
	}
	return n, nil
}

// ParseTaskMemory turns a task-level memory value ("512", "2048", "2 GB",
// "0.5GB") into MiB.
func ParseTaskMemory(s string) (int, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	if v, ok := strings.CutSuffix(t, "gb"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || f > 1024 {
			return 0, Errorf(EClient, "Invalid 'memory' setting for task: %q.", s)
		}
		return int(math.Round(f * 1024)), nil
	}
	t = strings.TrimSpace(strings.TrimSuffix(t, "mib"))
	n, err := strconv.Atoi(t)
	if err != nil || n < 6 || n > 1048576 {
		return 0, Errorf(EClient, "Invalid 'memory' setting for task: %q. Specify MiB (6 or more) or GB such as '2 GB'.", s)
	}
	return n, nil
}

// TaskDefinition is one revision of a family as the store keeps it.
type TaskDefinition struct {
	Family   string `json:"family"`
	Revision int    `json:"revision"`
	ARN      string `json:"arn"`
	Status   string `json:"status"`
	// Definition is the revision in ECS's own JSON (the TaskDefinition shape,
	// defaults filled in), as DescribeTaskDefinition returns it; Status and
	// DeregisteredAt above take precedence over the copies inside it.
	Definition     json.RawMessage `json:"definition"`
	Tags           []Tag           `json:"tags,omitempty"`
	RegisteredAt   time.Time       `json:"registeredAt"`
	DeregisteredAt time.Time       `json:"deregisteredAt,omitzero"`
}

// DependencyCycle returns a cycle of containers that depend on each other,
// such as [a b a], or nil when there is none. dependsOn maps each container
// to the containers it depends on (its dependsOn entries); names it does not
// hold depend on nothing. Containers are visited in the order of names, so
// that the cycle reported is always the same.
func DependencyCycle(names []string, dependsOn map[string][]string) []string {
	const (
		unvisited = iota
		onPath
		done
	)
	state := make(map[string]int, len(names))
	var path []string
	var visit func(string) []string
	visit = func(n string) []string {
		switch state[n] {
		case onPath:
			for i, p := range path {
				if p == n {
					return append(append([]string(nil), path[i:]...), n)
				}
			}
		case done:
			return nil
		}
		state[n] = onPath
		path = append(path, n)
		for _, d := range dependsOn[n] {
			if c := visit(d); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for _, n := range names {
		if c := visit(n); c != nil {
			return c
		}
	}
	return nil
}
