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
