package ecs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// TestRefusedFields checks that members Flotilla does not honour yet are
// refused with InvalidParameterException naming the member, that nothing
// is written when they are, and that their default values still pass.
func TestRefusedFields(t *testing.T) {
	c := newClient(t)
	must(c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("prod")}))(t)
	must(c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"),
		ContainerDefinitions: []types.ContainerDefinition{container("web", 64)}}))(t)
	must(c.CreateService(ctx, &sdk.CreateServiceInput{Cluster: aws.String("prod"), ServiceName: aws.String("api"),
		TaskDefinition: aws.String("web:1"), DesiredCount: aws.Int32(0)}))(t)

	withSecret := container("web", 64)
	withSecret.Secrets = []types.Secret{{Name: aws.String("DB_PASSWORD"), ValueFrom: aws.String("arn:aws:ssm:us-east-1:123456789012:parameter/db")}}
	awslogs := container("web", 64)
	awslogs.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{"awslogs-group": "web"}}
	awslogsBare := container("web", 64)
	awslogsBare.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverAwslogs}
	tests := []struct {
		name string
		call func() error
		want string // in the message
	}{
		{"secrets", func() error {
			_, err := c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"),
				ContainerDefinitions: []types.ContainerDefinition{container("side", 64), withSecret}})
			return err
		}, "containerDefinitions[1].secrets is not supported by Flotilla yet"},
		{"awslogs_options", func() error {
			_, err := c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"),
				ContainerDefinitions: []types.ContainerDefinition{awslogs}})
			return err
		}, "containerDefinitions[0].logConfiguration.options is not supported by Flotilla yet"},
		{"awslogs", func() error {
			_, err := c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"),
				ContainerDefinitions: []types.ContainerDefinition{awslogsBare}})
			return err
		}, "containerDefinitions[0].logConfiguration.logDriver awslogs is not supported by Flotilla yet"},
		{"update_service_execute_command", func() error {
			_, err := c.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("api"),
				EnableExecuteCommand: aws.Bool(true)})
			return err
		}, "enableExecuteCommand is not supported by Flotilla yet"},
		{"task_role", func() error {
			_, err := c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"),
				TaskRoleArn: aws.String("arn:aws:iam::123456789012:role/web"), ContainerDefinitions: []types.ContainerDefinition{container("web", 64)}})
			return err
		}, "taskRoleArn is not supported by Flotilla yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" || !strings.Contains(ae.ErrorMessage(), tt.want) {
				t.Fatalf("got %v, want InvalidParameterException with %q", err, tt.want)
			}
		})
	}

	// Nothing was written: the family still has its one revision.
	list := must(c.ListTaskDefinitions(ctx, &sdk.ListTaskDefinitionsInput{FamilyPrefix: aws.String("web")}))(t)
	if len(list.TaskDefinitionArns) != 1 {
		t.Errorf("task definitions after refusals: %v", list.TaskDefinitionArns)
	}
	// The defaults pass: false is what Flotilla does, json-file its driver.
	must(c.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("api"),
		EnableExecuteCommand: aws.Bool(false)}))(t)
	jsonFile := container("web", 64)
	jsonFile.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverJsonFile}
	must(c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("web"),
		ContainerDefinitions: []types.ContainerDefinition{jsonFile}}))(t)
}
