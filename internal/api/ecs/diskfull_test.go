package ecs_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// fullDisk is a store whose writes fail as bbolt's do on a full disk.
type fullDisk struct{ store.Store }

func (fullDisk) Txn(context.Context, store.Txn) (int64, error) {
	return 0, fmt.Errorf("txn: commit: %w", &fs.PathError{Op: "write", Path: "state.db", Err: syscall.ENOSPC})
}

// TestDiskFull checks that a write refused by a full disk is answered
// ServiceUnavailableException (HTTP 503) saying so, not a ServerException,
// and that reads still work.
func TestDiskFull(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := api.NewServer(api.Config{Credentials: sigv4.StaticCredentials{testKey: testSecret}})
	srv.HandleJSON(ecs.New(ecs.Config{Store: fullDisk{st}, Account: flotilla.Account{Region: "us-east-1", ID: account}}).JSONService())
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	c := sdkClient(ts.URL)
	ctx := context.Background()

	_, err = c.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("full")}, func(o *sdk.Options) { o.RetryMaxAttempts = 1 })
	var ae smithy.APIError
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &ae) || ae.ErrorCode() != api.CodeServiceUnavailable || !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("CreateCluster on a full disk: %v", err)
	}
	if msg := ae.ErrorMessage(); msg == "" || !strings.Contains(msg, "disk is full") {
		t.Fatalf("message %q does not say the disk is full", msg)
	}
	if out, err := c.ListClusters(ctx, &sdk.ListClustersInput{}); err != nil || len(out.ClusterArns) != 0 {
		t.Fatalf("ListClusters = %v, %v", out, err)
	}
}
