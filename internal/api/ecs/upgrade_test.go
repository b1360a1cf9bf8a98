package ecs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// TestUpgradeStoredTaskDefinition reads a task definition as the previous
// release stored it, its ECS JSON without the empty lists (its encoder
// left them out), and checks that it is described with them, as ECS
// sends them, and runs the same.
func TestUpgradeStoredTaskDefinition(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	arn := "arn:aws:ecs:us-east-1:" + account + ":task-definition/old:1"
	// What RegisterTaskDefinition wrote before always.json.
	old := `{"compatibilities":["EXTERNAL","EC2"],"containerDefinitions":[{"cpu":0,"essential":true,"image":"busybox","memory":64,"name":"web"}],` +
		`"family":"old","networkMode":"bridge","registeredAt":1767323045,"registeredBy":"arn:aws:iam::` + account + `:root","revision":1,"status":"ACTIVE",` +
		`"taskDefinitionArn":"` + arn + `"}`
	rec := flotilla.TaskDefinition{Family: "old", Revision: 1, ARN: arn, Status: flotilla.TaskDefinitionActive,
		Definition: json.RawMessage(old), RegisteredAt: time.Unix(1767323045, 0).UTC()}
	var ops []store.Op
	for key, v := range map[string]any{flotilla.FamilyKey("old"): flotilla.Family{Name: "old", LastRevision: 1}, flotilla.TaskDefinitionKey("old", 1): rec} {
		op, err := store.PutJSON(key, v)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	if _, err := st.Txn(context.Background(), store.Txn{Ops: ops}); err != nil {
		t.Fatal(err)
	}

	srv := api.NewServer(api.Config{Credentials: sigv4.StaticCredentials{testKey: testSecret}})
	srv.HandleJSON(ecs.New(ecs.Config{Store: st, Account: flotilla.Account{Region: "us-east-1", ID: account}}).JSONService())
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	rec2 := &sdktest.Recorder{}
	c := sdk.New(sdk.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
		HTTPClient:  &http.Client{Transport: rec2},
	})
	sdkTD := must(c.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String("old:1")}))(t).TaskDefinition
	if aws.ToString(sdkTD.TaskDefinitionArn) != arn || aws.ToString(sdkTD.ContainerDefinitions[0].Image) != "busybox" {
		t.Fatalf("described %+v", sdkTD)
	}
	var body struct {
		TaskDefinition map[string]json.RawMessage `json:"taskDefinition"`
	}
	if err := json.Unmarshal(rec2.Last(), &body); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"volumes", "placementConstraints"} {
		if got := string(body.TaskDefinition[m]); got != "[]" {
			t.Errorf("%s = %s, want []", m, got)
		}
	}
	var cds []map[string]json.RawMessage
	if err := json.Unmarshal(body.TaskDefinition["containerDefinitions"], &cds); err != nil {
		t.Fatal(err)
	}
	var empty []string
	for k, v := range cds[0] {
		if string(v) == "[]" {
			empty = append(empty, k)
		}
	}
	slices.Sort(empty)
	if want := []string{"environment", "mountPoints", "portMappings", "volumesFrom"}; !slices.Equal(empty, want) {
		t.Errorf("container definition's empty lists %q, want %q", empty, want)
	}
}
