package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/agent"
	"github.com/flotilla/flotilla/internal/agent/docker"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/link"
	"github.com/flotilla/flotilla/internal/scheduler"
	"github.com/flotilla/flotilla/internal/seal"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
	"github.com/flotilla/flotilla/internal/testimage"
)

const (
	benchKey    = "AKIAFLOTILLABENCH001"
	benchSecret = "YmVuY2gtc2VjcmV0LW5vdC1mb3ItcHJvZHVjdGlvbg"
)

// BenchmarkRunTaskToRunning measures, in one run, the time from RunTask to
// the task RUNNING in the store for a local FROM-scratch image, against
// creating and starting the same container directly through the Docker
// Engine API; it reports the medians and Flotilla's added time.
func BenchmarkRunTaskToRunning(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := testimage.Ensure(ctx, testimage.Tag); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "state.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	placer := scheduler.NewPlacer(st, nil)
	go placer.Run(ctx)
	svc := ecs.New(ecs.Config{Store: st, Account: flotilla.Account{Region: "us-east-1", ID: "123456789012"}, Placer: placer})
	srv := api.NewServer(api.Config{Credentials: sigv4.Chain{sigv4.StaticCredentials{benchKey: benchSecret}, svc}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	srv.HandleJSON(svc.JSONService())
	srv.HandleAuthenticated(link.Path, api.RawRoute{SigningName: "ecs", Permit: api.Instance, Handler: svc.LinkHandler()})
	go svc.Run(ctx)

	c := sdk.New(sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL),
		Credentials: credentials.NewStaticCredentialsProvider(benchKey, benchSecret, "")})
	cluster := fmt.Sprintf("bench%d", time.Now().UnixNano())
	if _, err := c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		b.Fatal(err)
	}
	rt, err := docker.New(docker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	keys, _, err := seal.LoadOrCreate(filepath.Join(dir, "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	a, err := agent.New(agent.Config{Keyring: keys, Server: ts.URL, AccessKeyID: benchKey, SecretAccessKey: benchSecret, Cluster: cluster,
		DataDir: filepath.Join(dir, "agent"), CPU: 4096, MemoryMiB: 4096, Runtime: rt, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	agentDone := make(chan struct{})
	go func() { a.Run(ctx); close(agentDone) }()
	defer func() { cancel(); <-agentDone }()
	waitConnected(b, c, cluster)

	td, err := c.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{Family: aws.String("bench"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("main"), Image: aws.String(testimage.Tag),
			Memory: aws.Int32(32), Command: []string{"sleep", "10m"}}}})
	if err != nil {
		b.Fatal(err)
	}
	tdARN := aws.ToString(td.TaskDefinition.TaskDefinitionArn)

	var viaFlotilla, direct []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Through Flotilla: RunTask until the task is RUNNING in the store.
		rev, err := st.Rev(ctx)
		if err != nil {
			b.Fatal(err)
		}
		events, err := st.Watch(ctx, flotilla.ClusterTasksPrefix(cluster), rev)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		out, err := c.RunTask(ctx, &sdk.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(tdARN)})
		if err != nil || len(out.Tasks) != 1 {
			b.Fatalf("run task: %v %+v", err, out)
		}
		arn := aws.ToString(out.Tasks[0].TaskArn)
		waitRunning(b, events, arn)
		viaFlotilla = append(viaFlotilla, time.Since(t0))

		// Directly: create and start the same container.
		t1 := time.Now()
		id, err := rt.Create(ctx, agent.ContainerSpec{Name: fmt.Sprintf("flotilla-bench-%d-%d", time.Now().UnixNano(), i),
			Image: testimage.Tag, Cmd: []string{"sleep", "10m"}, MemoryMiB: 32, CPUShares: 2,
			Labels: map[string]string{"flotilla.test": "1"}})
		if err != nil {
			b.Fatal(err)
		}
		if err := rt.Start(ctx, id); err != nil {
			b.Fatal(err)
		}
		direct = append(direct, time.Since(t1))

		b.StopTimer()
		if _, err := c.StopTask(ctx, &sdk.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(arn)}); err != nil {
			b.Fatal(err)
		}
		_ = rt.Remove(ctx, id)
		b.StartTimer()
	}
	b.StopTimer()
	med := func(d []time.Duration) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[len(s)/2].Microseconds()) / 1000
	}
	b.ReportMetric(med(viaFlotilla), "flotilla_ms")
	b.ReportMetric(med(direct), "docker_ms")
	b.ReportMetric(med(viaFlotilla)-med(direct), "added_ms")
}

func waitConnected(b *testing.B, c *sdk.Client, cluster string) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		l, err := c.ListContainerInstances(context.Background(), &sdk.ListContainerInstancesInput{Cluster: aws.String(cluster)})
		if err != nil || len(l.ContainerInstanceArns) == 0 {
			continue
		}
		d, err := c.DescribeContainerInstances(context.Background(), &sdk.DescribeContainerInstancesInput{Cluster: aws.String(cluster), ContainerInstances: l.ContainerInstanceArns})
		if err == nil && len(d.ContainerInstances) == 1 && d.ContainerInstances[0].AgentConnected {
			return
		}
	}
	b.Fatal("agent did not connect")
}

func waitRunning(b *testing.B, events <-chan store.Event, arn string) {
	timeout := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				b.Fatal("watch ended")
			}
			var t struct {
				ARN        string `json:"arn"`
				LastStatus string `json:"lastStatus"`
			}
			if json.Unmarshal(ev.KV.Value, &t) == nil && t.ARN == arn && t.LastStatus == flotilla.TaskRunning {
				return
			}
		case <-timeout:
			b.Fatal("task did not reach RUNNING")
		}
	}
}
