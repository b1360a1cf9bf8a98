package flotilla

import (
	"fmt"
	"regexp"
	"strings"
)

// regionPattern is the shape of AWS's region names: us-east-1,
// ap-southeast-2, us-gov-west-1, cn-north-1, us-isob-east-1.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// ValidateRegion reports a name that is not shaped like an AWS region's.
// Flotilla serves every region so shaped, each with its own resources, as
// AWS, moto and LocalStack do.
func ValidateRegion(region string) error {
	if !regionPattern.MatchString(region) {
		return fmt.Errorf("invalid region %q: a region name is like us-east-1", region)
	}
	return nil
}

// partitions are the partitions other than "aws", by region name prefix,
// longest first where one prefix extends another.
var partitions = []struct{ prefix, partition string }{
	{"us-isob-", "aws-iso-b"},
	{"us-isof-", "aws-iso-f"},
	{"eu-isoe-", "aws-iso-e"},
	{"us-iso-", "aws-iso"},
	{"us-gov-", "aws-us-gov"},
	{"cn-", "aws-cn"},
}

// PartitionOf returns the AWS partition a region belongs to, which ARNs of
// its resources name: "aws-cn" for cn-north-1, "aws-us-gov" for
// us-gov-west-1, "aws" for the commercial regions.
func PartitionOf(region string) string {
	for _, p := range partitions {
		if strings.HasPrefix(region, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}

// RegionsPrefix is the store prefix of the records of the regions that
// have resources here (Region).
const RegionsPrefix = "/flotilla/regions/"

// RegionKey is the store key of a region's record.
func RegionKey(name string) string { return RegionsPrefix + name }

// RegionKeyPrefix is the prefix under which a region's resources are
// stored (their keys, such as ClusterKey's, follow it), for every region
// but the first one a store served. The first one's resources are at the
// keys themselves, where releases serving one region wrote them, so that
// an upgraded store finds them in that region.
func RegionKeyPrefix(name string) string { return RegionKeysPrefix + name + "/" }

// RegionKeysPrefix is what RegionKeyPrefix starts with for every region.
// The resource keys that follow a region's prefix are the ones the first
// region uses, unchanged: /region/eu-west-1/ + /ecs/instancekeys/FLTI...
// (a doubled slash) is eu-west-1's key of what the first region keeps at
// /ecs/instancekeys/FLTI...
const RegionKeysPrefix = "/region/"

// RegionLocalKey returns the key a region's resource has in the region's
// own view of the store: key without its leading RegionKeyPrefix, or key
// itself when it is not under one (a key of the first region, or of no
// region).
func RegionLocalKey(key string) string {
	rest, ok := strings.CutPrefix(key, RegionKeysPrefix)
	if !ok {
		return key
	}
	name, local, ok := strings.Cut(rest, "/")
	if !ok || name == "" {
		return key
	}
	return local
}

// Region is the record of a region that has resources in the store.
type Region struct {
	Name string `json:"name"`
	// KeyPrefix is what the keys of the region's resources start with:
	// RegionKeyPrefix(Name), or "" for the first region.
	KeyPrefix string `json:"keyPrefix"`
}
