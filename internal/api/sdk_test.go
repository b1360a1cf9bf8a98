package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/sdktest"
)

// Toy ECS operations: the real aws-sdk-go-v2 ECS client must read the
// protocol layer's answers, errors included, as it reads Amazon ECS's.

type listClustersIn struct {
	MaxResults *int32 `json:"maxResults"`
}

func (in *listClustersIn) Validate() error {
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 100) {
		return api.Errorf("InvalidParameterException", "maxResults must be between 1 and 100.")
	}
	return nil
}

type listClustersOut struct {
	ClusterArns []string `json:"clusterArns"`
}

type describeClustersIn struct {
	Clusters []string `json:"clusters"`
}

// toyECS registers toy handlers under ECS's own target prefix.
func toyECS() api.JSONService {
	return api.JSONService{
		TargetPrefix: "AmazonEC2ContainerServiceV20141113",
		SigningName:  "ecs",
		Operations: map[string]api.Operation{
			"ListClusters": api.JSON(func(ctx context.Context, in *listClustersIn) (*listClustersOut, error) {
				// The second "ARN" smuggles api.RequestID out.
				return &listClustersOut{ClusterArns: []string{"arn:aws:ecs:us-east-1:123456789012:cluster/default", api.RequestID(ctx)}}, nil
			}),
			"DescribeClusters": api.JSON(func(ctx context.Context, in *describeClustersIn) (*struct{}, error) {
				return nil, api.Errorf("ClusterNotFoundException", "Cluster not found.")
			}),
			"DeleteCluster": api.JSON(func(ctx context.Context, in *struct{}) (*struct{}, error) {
				panic("boom")
			}),
		},
		ValidationErrorCode: "InvalidParameterException",
	}
}

func newECSClient(url, key, secret string) *ecs.Client {
	return ecs.NewFromConfig(sdktest.Config(url, key, secret))
}

func TestAWSSDKForGo(t *testing.T) {
	s := api.NewServer(api.Config{Credentials: credentials, Logger: slog.New(slog.DiscardHandler)})
	s.HandleJSON(toyECS())
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	ctx := context.Background()
	client := newECSClient(hs.URL, akid, secret)

	out, err := client.ListClusters(ctx, &ecs.ListClustersInput{MaxResults: aws.Int32(10)})
	if err != nil {
		t.Fatalf("ListClusters: %v", err)
	}
	if len(out.ClusterArns) != 2 {
		t.Fatalf("clusterArns = %v", out.ClusterArns)
	}
	if id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); id == "" || id != out.ClusterArns[1] {
		t.Errorf("SDK request id %q, handler's %q", id, out.ClusterArns[1])
	}

	tests := []struct {
		name    string
		call    func(*ecs.Client) error
		client  *ecs.Client
		code    string
		message string
		typed   func(error) bool
	}{
		{
			name: "modeled error", call: func(c *ecs.Client) error {
				_, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"nope"}})
				return err
			},
			code: "ClusterNotFoundException", message: "Cluster not found.",
			typed: func(err error) bool { var e *types.ClusterNotFoundException; return errors.As(err, &e) },
		},
		{
			name: "validation", call: func(c *ecs.Client) error {
				_, err := c.ListClusters(ctx, &ecs.ListClustersInput{MaxResults: aws.Int32(1000)})
				return err
			},
			code: "InvalidParameterException", message: "maxResults must be between 1 and 100.",
			typed: func(err error) bool { var e *types.InvalidParameterException; return errors.As(err, &e) },
		},
		{
			name: "panic", call: func(c *ecs.Client) error {
				_, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("x")})
				return err
			},
			code:  "ServerException",
			typed: func(err error) bool { var e *types.ServerException; return errors.As(err, &e) },
		},
		{
			name: "wrong secret", client: newECSClient(hs.URL, akid, "wrong"), call: func(c *ecs.Client) error {
				_, err := c.ListClusters(ctx, &ecs.ListClustersInput{})
				return err
			},
			code: "InvalidSignatureException",
		},
		{
			name: "unknown key", client: newECSClient(hs.URL, "AKIDNOBODY", secret), call: func(c *ecs.Client) error {
				_, err := c.ListClusters(ctx, &ecs.ListClustersInput{})
				return err
			},
			code: "UnrecognizedClientException", message: "The security token included in the request is invalid.",
		},
		{
			name: "unsupported operation", call: func(c *ecs.Client) error {
				_, err := c.ListServices(ctx, &ecs.ListServicesInput{})
				return err
			},
			code: "UnknownOperationException",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client
			if tt.client != nil {
				c = tt.client
			}
			err := tt.call(c)
			var ae smithy.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an API error", err)
			}
			if ae.ErrorCode() != tt.code {
				t.Errorf("code = %s, want %s", ae.ErrorCode(), tt.code)
			}
			if tt.message != "" && ae.ErrorMessage() != tt.message {
				t.Errorf("message = %q, want %q", ae.ErrorMessage(), tt.message)
			}
			if tt.typed != nil && !tt.typed(err) {
				t.Errorf("error %T is not the modeled type", err)
			}
			var re interface{ ServiceRequestID() string }
			if !errors.As(err, &re) || re.ServiceRequestID() == "" {
				t.Errorf("error carries no request id: %v", err)
			}
		})
	}
}
