package flotilla

import "testing"

func TestValidateRegion(t *testing.T) {
	for _, r := range []string{"us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1", "us-isob-east-1", "il-central-1", "eusc-de-east-1"} {
		if err := ValidateRegion(r); err != nil {
			t.Errorf("ValidateRegion(%q): %v", r, err)
		}
	}
	for _, r := range []string{"", "us-east", "US-EAST-1", "us-east-1/x", "us:east-1", "useast1", "us-east-1 ", "us-east-123", "us-esat-1", "zz-node-1", "us-east-9"} {
		if err := ValidateRegion(r); err == nil {
			t.Errorf("ValidateRegion(%q) = nil, want an error", r)
		}
	}
}

func TestARNPartition(t *testing.T) {
	cases := []struct{ region, want string }{
		{"us-east-1", "arn:aws:ecs:us-east-1:123456789012:cluster/c"},
		{"eu-west-1", "arn:aws:ecs:eu-west-1:123456789012:cluster/c"},
		{"cn-north-1", "arn:aws-cn:ecs:cn-north-1:123456789012:cluster/c"},
		{"us-gov-west-1", "arn:aws-us-gov:ecs:us-gov-west-1:123456789012:cluster/c"},
		{"us-iso-east-1", "arn:aws-iso:ecs:us-iso-east-1:123456789012:cluster/c"},
		{"us-isob-east-1", "arn:aws-iso-b:ecs:us-isob-east-1:123456789012:cluster/c"},
		{"eusc-de-east-1", "arn:aws-eusc:ecs:eusc-de-east-1:123456789012:cluster/c"},
	}
	for _, c := range cases {
		a := Account{Region: c.region, ID: "123456789012"}
		got := a.ClusterARN("c")
		if got != c.want {
			t.Errorf("ClusterARN in %s = %s, want %s", c.region, got, c.want)
		}
		if !a.Owns("ecs", got) {
			t.Errorf("%s does not own its own ARN %s", c.region, got)
		}
	}
}

func TestOwns(t *testing.T) {
	a := Account{Region: "us-east-1", ID: "123456789012"}
	for _, arn := range []string{
		"arn:aws:ecs:eu-west-9:123456789012:task/c/1",    // another region
		"arn:aws:ecs:us-east-1:999999999999:task/c/1",    // another account
		"arn:aws-cn:ecs:us-east-1:123456789012:task/c/1", // another partition
		"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1",
		"arn:aws:ecs:us-east-1:123456789012",
		"task/c/1",
	} {
		if a.Owns("ecs", arn) {
			t.Errorf("Owns(ecs, %s) = true", arn)
		}
	}
	if !a.Owns("ecs", "arn:aws:ecs:us-east-1:123456789012:task/c/1") {
		t.Error("Owns its own task ARN = false")
	}
}
