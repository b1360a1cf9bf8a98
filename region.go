package flotilla

import (
	"fmt"
	"strings"
)

// regions are AWS's regions, by partition, as the AWS SDKs' partitions
// data (aws-sdk-go-v2 internal/endpoints/awsrulesfn/partitions.json)
// lists them: the commercial regions, China's, GovCloud's, the
// European Sovereign Cloud's and the isolated ones.
var regions = map[string]bool{}

func init() {
	for _, r := range []string{
		// aws
		"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
		"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
		"ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1",
		"eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
		"il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2",
		"us-west-1", "us-west-2",
		// aws-cn
		"cn-north-1", "cn-northwest-1",
		// aws-us-gov
		"us-gov-east-1", "us-gov-west-1",
		// aws-eusc
		"eusc-de-east-1",
		// aws-iso, aws-iso-b, aws-iso-e, aws-iso-f
		"us-iso-east-1", "us-iso-west-1", "us-isob-east-1", "us-isob-west-1", "eu-isoe-west-1",
		"us-isof-east-1", "us-isof-south-1",
	} {
		regions[r] = true
	}
}

// ValidateRegion reports a name that is not one of AWS's regions.
// Flotilla serves every AWS region, each with its own resources, as AWS
// does; a name that is none (a typo such as us-esat-1) is refused, as AWS
// refuses a credential scoped to it.
func ValidateRegion(region string) error {
	if !regions[region] {
		return fmt.Errorf("invalid region %q: not an AWS region, such as us-east-1", region)
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
	{"eusc-", "aws-eusc"},
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
