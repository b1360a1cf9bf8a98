package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestCrashLosesNoAcknowledgedWrite kills the server with SIGKILL during a
// stream of concurrent writes, restarts it on the same data dir, and checks
// that every acknowledged write is there and no revision is handed out twice.
func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 3; round++ {
		s := startServer(t, dir)
		client := s.ECS()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)

		var (
			mu       sync.Mutex
			clusters []string
			revs     = map[string]int32{} // family -> highest acknowledged revision
			acked    atomic.Int64
			wg       sync.WaitGroup
		)
		const writers = 32
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					name := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					if _, err := client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err != nil {
						return
					}
					mu.Lock()
					clusters = append(clusters, name)
					mu.Unlock()
					acked.Add(1)
					fam := fmt.Sprintf("fam%d", w%8)
					out, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
						Family: aws.String(fam),
						ContainerDefinitions: []types.ContainerDefinition{{
							Name: aws.String("c"), Image: aws.String("busybox"), Memory: aws.Int32(32),
						}},
					})
					if err != nil {
						return
					}
					mu.Lock()
					if r := out.TaskDefinition.Revision; r > revs[fam] {
						revs[fam] = r
					}
					mu.Unlock()
					acked.Add(1)
				}
			}()
		}
		for acked.Load() < 400 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		s.Kill()
		wg.Wait()
		cancel()
		if acked.Load() < 400 {
			t.Fatalf("round %d: only %d writes acknowledged before the deadline", round, acked.Load())
		}
		t.Logf("round %d: killed after %d acknowledged writes", round, acked.Load())

		s = startServer(t, dir)
		client = s.ECS()
		ctx = context.Background()
		for i := 0; i < len(clusters); i += 100 {
			batch := clusters[i:min(i+100, len(clusters))]
			out, err := client.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: batch})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Failures) > 0 || len(out.Clusters) != len(batch) {
				t.Fatalf("round %d: acknowledged clusters lost after SIGKILL: %d failures, e.g. %v", round, len(out.Failures), aws.ToString(out.Failures[0].Arn))
			}
		}
		for fam, rev := range revs {
			ref := fmt.Sprintf("%s:%d", fam, rev)
			if _, err := client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)}); err != nil {
				t.Fatalf("round %d: acknowledged task definition %s lost: %v", round, ref, err)
			}
			out, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
				Family:               aws.String(fam),
				ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("c"), Image: aws.String("busybox"), Memory: aws.Int32(32)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.TaskDefinition.Revision; got <= rev {
				t.Fatalf("round %d: revision %d of %s handed out again after restart (acknowledged up to %d)", round, got, fam, rev)
			}
		}
		s.Stop()
	}
}
