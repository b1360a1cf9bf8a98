package ecs_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/model"
	"github.com/flotilla/flotilla/internal/model/ecs"
)

// registerTaskDefinition is a RegisterTaskDefinition request body as the AWS
// CLI sends it, with zero values (essential false, hostPort 0) that must
// survive a round trip.
const registerTaskDefinition = `{
	"family": "web",
	"taskRoleArn": "arn:aws:iam::123456789012:role/web",
	"networkMode": "bridge",
	"requiresCompatibilities": ["EC2", "MANAGED_INSTANCES"],
	"cpu": "512",
	"memory": "1024",
	"containerDefinitions": [
		{
			"name": "nginx",
			"image": "nginx:1.27",
			"cpu": 256,
			"memoryReservation": 128,
			"essential": true,
			"portMappings": [
				{"containerPort": 80, "hostPort": 0, "protocol": "tcp", "name": "http", "appProtocol": "http"},
				{"containerPort": 443, "hostPort": 8443, "protocol": "tcp"}
			],
			"environment": [{"name": "MODE", "value": "production"}],
			"healthCheck": {
				"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
				"interval": 30,
				"timeout": 5,
				"retries": 3,
				"startPeriod": 10
			},
			"logConfiguration": {
				"logDriver": "json-file",
				"options": {"max-size": "10m", "max-file": "3"}
			},
			"dockerLabels": {"team": "web"},
			"ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}]
		},
		{
			"name": "sidecar",
			"image": "busybox",
			"essential": false,
			"command": ["sleep", "infinity"],
			"dependsOn": [{"containerName": "nginx", "condition": "HEALTHY"}]
		}
	],
	"volumes": [{"name": "data", "host": {"sourcePath": "/srv/data"}}],
	"placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
	"tags": [{"key": "env", "value": "prod"}]
}`

// describeTasks is a DescribeTasks response with timestamps, whole and
// fractional.
const describeTasks = `{
	"tasks": [
		{
			"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/default/0123456789abcdef",
			"clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/default",
			"taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
			"lastStatus": "RUNNING",
			"desiredStatus": "RUNNING",
			"launchType": "EC2",
			"healthStatus": "HEALTHY",
			"createdAt": 1700000000.123,
			"startedAt": 1700000005,
			"version": 4,
			"containers": [
				{
					"name": "nginx",
					"lastStatus": "RUNNING",
					"exitCode": 0,
					"networkBindings": [{"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 32768, "protocol": "tcp"}]
				}
			]
		}
	],
	"failures": [{"arn": "arn:aws:ecs:us-east-1:123456789012:task/default/gone", "reason": "MISSING"}]
}`

func TestJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		value any
		check func(t *testing.T, v any)
	}{
		{"RegisterTaskDefinitionRequest", registerTaskDefinition, new(ecs.RegisterTaskDefinitionRequest), func(t *testing.T, v any) {
			req := v.(*ecs.RegisterTaskDefinitionRequest)
			if got := *req.Family; got != "web" {
				t.Errorf("family = %q", got)
			}
			if got := req.NetworkMode; got != ecs.NetworkModeBridge {
				t.Errorf("networkMode = %q", got)
			}
			nginx, sidecar := req.ContainerDefinitions[0], req.ContainerDefinitions[1]
			if pm := nginx.PortMappings[0]; pm.HostPort == nil || *pm.HostPort != 0 || pm.Protocol != ecs.TransportProtocolTcp {
				t.Errorf("portMappings[0] = %+v, want an explicit hostPort 0 and protocol tcp", pm)
			}
			if got := *nginx.PortMappings[1].ContainerPort; got != 443 {
				t.Errorf("portMappings[1].containerPort = %d", got)
			}
			if got := *nginx.HealthCheck.Retries; got != 3 {
				t.Errorf("healthCheck.retries = %d", got)
			}
			if got := nginx.LogConfiguration.Options["max-size"]; got != "10m" {
				t.Errorf("logConfiguration.options = %v", nginx.LogConfiguration.Options)
			}
			if sidecar.Essential == nil || *sidecar.Essential {
				t.Errorf("sidecar essential = %v, want an explicit false", sidecar.Essential)
			}
			if sidecar.HealthCheck != nil || sidecar.PortMappings != nil {
				t.Error("absent members of sidecar are set")
			}
		}},
		{"DescribeTasksResponse", describeTasks, new(ecs.DescribeTasksResponse), func(t *testing.T, v any) {
			task := v.(*ecs.DescribeTasksResponse).Tasks[0]
			if want := time.UnixMilli(1700000000123); !task.CreatedAt.Equal(want) {
				t.Errorf("createdAt = %v, want %v", task.CreatedAt, want)
			}
			if want := time.Unix(1700000005, 0); !task.StartedAt.Equal(want) {
				t.Errorf("startedAt = %v, want %v", task.StartedAt, want)
			}
			if task.StoppedAt != nil {
				t.Errorf("stoppedAt = %v, want absent", task.StoppedAt)
			}
			if got := *task.Version; got != 4 {
				t.Errorf("version = %d", got)
			}
			if task.LaunchType != ecs.LaunchTypeEc2 || task.HealthStatus != ecs.HealthStatusHealthy {
				t.Errorf("launchType %q, healthStatus %q", task.LaunchType, task.HealthStatus)
			}
			if c := task.Containers[0]; c.ExitCode == nil || *c.ExitCode != 0 {
				t.Errorf("containers[0].exitCode = %v, want an explicit 0", c.ExitCode)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(tt.body), tt.value); err != nil {
				t.Fatal(err)
			}
			tt.check(t, tt.value)
			out, err := json.Marshal(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			if err := json.Unmarshal([]byte(tt.body), &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			// The members that ECS always sends come back as [] when absent.
			dropAddedEmpty(got, want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the body:\n got %s\nwant %s", out, tt.body)
			}
		})
	}
}

// dropAddedEmpty deletes from got, recursively, the empty lists that want
// does not have.
func dropAddedEmpty(got, want any) {
	switch g := got.(type) {
	case map[string]any:
		w, _ := want.(map[string]any)
		for k, v := range g {
			if l, ok := v.([]any); ok && len(l) == 0 {
				if _, ok := w[k]; !ok {
					delete(g, k)
					continue
				}
			}
			dropAddedEmpty(v, w[k])
		}
	case []any:
		w, _ := want.([]any)
		for i := range g {
			if i < len(w) {
				dropAddedEmpty(g[i], w[i])
			}
		}
	}
}

type validator interface{ Validate() error }

func TestValidate(t *testing.T) {
	longKey := strings.Repeat("k", 129)
	fiftyOneTags := `[` + strings.Repeat(`{"key":"k","value":"v"},`, 50) + `{"key":"k","value":"v"}]`
	tests := []struct {
		name string
		in   validator
		body string
		want []model.ParamError
	}{
		{
			name: "valid",
			in:   new(ecs.RegisterTaskDefinitionRequest),
			body: registerTaskDefinition,
		},
		{
			name: "missing required members",
			in:   new(ecs.RegisterTaskDefinitionRequest),
			body: `{"networkMode": "host"}`,
			want: []model.ParamError{
				{Path: "containerDefinitions", Reason: "is required"},
				{Path: "family", Reason: "is required"},
			},
		},
		{
			name: "an empty list is present",
			in:   new(ecs.RegisterTaskDefinitionRequest),
			body: `{"family": "web", "containerDefinitions": []}`,
		},
		{
			name: "nested required member",
			in:   new(ecs.RegisterTaskDefinitionRequest),
			body: `{"family": "web", "containerDefinitions": [{"name": "a"}, {"name": "b", "healthCheck": {"interval": 5}}]}`,
			want: []model.ParamError{{Path: "containerDefinitions[1].healthCheck.command", Reason: "is required"}},
		},
		{
			name: "required enum",
			in:   new(ecs.RegisterTaskDefinitionRequest),
			body: `{"family": "web", "containerDefinitions": [{"name": "a", "logConfiguration": {"options": {}}}]}`,
			want: []model.ParamError{{Path: "containerDefinitions[0].logConfiguration.logDriver", Reason: "is required"}},
		},
		{
			name: "invalid enums",
			in:   new(ecs.RegisterTaskDefinitionRequest),
			body: `{
				"family": "web",
				"networkMode": "bridged",
				"requiresCompatibilities": ["EC2", "EC3"],
				"containerDefinitions": [{"name": "a", "portMappings": [{"containerPort": 80}, {"containerPort": 53, "protocol": "sctp"}]}]
			}`,
			want: []model.ParamError{
				{Path: "containerDefinitions[0].portMappings[1].protocol", Reason: "must be one of [tcp, udp]"},
				{Path: "networkMode", Reason: "must be one of [bridge, host, awsvpc, none]"},
				{Path: "requiresCompatibilities[1]", Reason: "must be one of [EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES]"},
			},
		},
		{
			name: "string lengths and pattern",
			in:   new(ecs.TagResourceRequest),
			body: `{"resourceArn": "arn:aws:ecs:us-east-1:123456789012:cluster/default", "tags": [
				{"key": "` + longKey + `", "value": "ok"},
				{"key": "", "value": "not ok!"}
			]}`,
			want: []model.ParamError{
				{Path: "tags[0].key", Reason: "must have length at most 128"},
				{Path: "tags[1].key", Reason: "must have length at least 1"},
				{Path: "tags[1].value", Reason: `must match the pattern ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`},
			},
		},
		{
			name: "list length",
			in:   new(ecs.TagResourceRequest),
			body: `{"resourceArn": "arn", "tags": ` + fiftyOneTags + `}`,
			want: []model.ParamError{{Path: "tags", Reason: "must have at most 50 items"}},
		},
		{
			name: "number range",
			in:   new(ecs.CreateServiceRequest),
			body: `{"serviceName": "web", "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1001, "base": -1}, {"weight": 1}]}`,
			want: []model.ParamError{
				{Path: "capacityProviderStrategy[0].base", Reason: "must be at least 0"},
				{Path: "capacityProviderStrategy[0].weight", Reason: "must be at most 1000"},
				{Path: "capacityProviderStrategy[1].capacityProvider", Reason: "is required"},
			},
		},
		{
			// Merged from botocore: autoScalingGroupProvider is no longer
			// required now that managedInstancesProvider is an alternative.
			name: "newer model relaxes a requirement",
			in:   new(ecs.CreateCapacityProviderRequest),
			body: `{"name": "mi", "cluster": "default", "managedInstancesProvider": {
				"infrastructureRoleArn": "arn:aws:iam::123456789012:role/infra",
				"instanceLaunchTemplate": {
					"ec2InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/ecs",
					"networkConfiguration": {"subnets": ["subnet-1"]}
				}
			}}`,
		},
		{
			name: "operation added from botocore",
			in:   new(ecs.ListServiceDeploymentsRequest),
			body: `{"cluster": "default", "status": ["PENDING", "LOST"]}`,
			want: []model.ParamError{
				{Path: "service", Reason: "is required"},
				{Path: "status[1]", Reason: "must be one of [PENDING, SUCCESSFUL, STOPPED, STOP_REQUESTED, IN_PROGRESS, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED]"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(tt.body), tt.in); err != nil {
				t.Fatal(err)
			}
			err := tt.in.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *model.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v (%T), want a *model.ValidationError", err, err)
			}
			if !slices.Equal(ve.Params, tt.want) {
				t.Errorf("Validate():\n got %q\nwant %q", ve.Params, tt.want)
			}
		})
	}
}

func TestOperations(t *testing.T) {
	tests := []struct {
		name      string
		want      ecs.Operation
		wantError string
	}{
		{"RegisterTaskDefinition", ecs.Operation{Name: "RegisterTaskDefinition", Input: "RegisterTaskDefinitionRequest", Output: "RegisterTaskDefinitionResponse"}, "ClientException"},
		{"ListServiceDeployments", ecs.Operation{Name: "ListServiceDeployments", Input: "ListServiceDeploymentsRequest", Output: "ListServiceDeploymentsResponse"}, "ServiceNotFoundException"},
		{"DeleteCluster", ecs.Operation{Name: "DeleteCluster", Input: "DeleteClusterRequest", Output: "DeleteClusterResponse"}, "ClusterContainsServicesException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, ok := ecs.Operations[tt.name]
			if !ok {
				t.Fatalf("no operation %s", tt.name)
			}
			if op.Name != tt.want.Name || op.Input != tt.want.Input || op.Output != tt.want.Output {
				t.Errorf("got %s(%s) %s, want %s(%s) %s", op.Name, op.Input, op.Output, tt.want.Name, tt.want.Input, tt.want.Output)
			}
			if !slices.Contains(op.Errors, tt.wantError) || !slices.IsSorted(op.Errors) {
				t.Errorf("errors %q: want sorted, with %s", op.Errors, tt.wantError)
			}
		})
	}
	if got := len(ecs.Operations); got != 77 {
		t.Errorf("%d operations, want 77 (56 from aws-sdk-go, 21 from botocore)", got)
	}
	if ecs.TargetPrefix != "AmazonEC2ContainerServiceV20141113" || ecs.SigningName != "ecs" || ecs.APIVersion != "2014-11-13" || ecs.JSONVersion != "1.1" {
		t.Error("service constants differ from the model's metadata")
	}
}

func TestErrors(t *testing.T) {
	var err error = &ecs.ClusterNotFoundException{Message: new("Cluster not found.")}
	var nf *ecs.ClusterNotFoundException
	if !errors.As(fmtWrap(err), &nf) {
		t.Fatal("errors.As does not find the ClusterNotFoundException")
	}
	if got, want := err.Error(), "ClusterNotFoundException: Cluster not found."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := nf.ErrorCode(); got != "ClusterNotFoundException" {
		t.Errorf("ErrorCode() = %q", got)
	}
	if got := (&ecs.ServerException{}).Error(); got != "ServerException" {
		t.Errorf("Error() without message = %q", got)
	}
}

func fmtWrap(err error) error { return errors.Join(errors.New("context"), err) }

func TestEnumValues(t *testing.T) {
	got := ecs.LaunchType("").Values()
	want := []ecs.LaunchType{ecs.LaunchTypeEc2, ecs.LaunchTypeFargate, ecs.LaunchTypeExternal, ecs.LaunchTypeManagedInstances}
	if !slices.Equal(got, want) {
		t.Errorf("LaunchType values = %q, want %q", got, want)
	}
}

// TestAlwaysSentEmpty checks that the members of always.json are sent
// empty, as ECS sends them, and that the others are still left out.
func TestAlwaysSentEmpty(t *testing.T) {
	tests := []struct {
		value any
		want  string
	}{
		{ecs.ListTasksResponse{}, `{"taskArns":[]}`},
		{&ecs.RunTaskResponse{}, `{"failures":[],"tasks":[]}`},
		{ecs.DescribeTasksResponse{Tasks: []ecs.Task{{}}}, `{"failures":[],"tasks":[{"attachments":[]}]}`},
		{ecs.TaskDefinition{Family: new(string)}, `{"family":"","placementConstraints":[],"volumes":[]}`},
		{ecs.DescribeTaskDefinitionResponse{}, `{}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.value)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%T: got %s, want %s", tt.value, b, tt.want)
		}
	}
}
