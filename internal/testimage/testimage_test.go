package testimage

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

func TestEnsure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Several callers at once, as parallel test binaries would be.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = Ensure(ctx, Tag) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Ensure: %v", err)
		}
	}

	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	before, err := cli.ImageInspect(ctx, Tag)
	if err != nil {
		t.Fatalf("inspect %s: %v", Tag, err)
	}
	if before.Config == nil || len(before.Config.Labels[HashLabel]) != 64 {
		t.Fatalf("image labels = %v, want %s set to a SHA-256", before.Config, HashLabel)
	}
	if got := before.Config.Entrypoint; len(got) != 1 || got[0] != "/testapp" {
		t.Errorf("entrypoint = %q, want [/testapp]", got)
	}

	// The image is current: Ensure leaves it alone.
	if err := Ensure(ctx, Tag); err != nil {
		t.Fatalf("Ensure again: %v", err)
	}
	after, err := cli.ImageInspect(ctx, Tag)
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != before.ID {
		t.Errorf("Ensure rebuilt a current image: %s became %s", before.ID, after.ID)
	}
}

func TestReadBuildStream(t *testing.T) {
	tests := []struct {
		name, stream, id, err string
	}{
		{
			name:   "ok",
			stream: `{"stream":"Step 1/3 : FROM scratch\n"}{"aux":{"ID":"sha256:abc"}}{"stream":"Successfully built abc\n"}`,
			id:     "sha256:abc",
		},
		{
			name:   "error",
			stream: `{"stream":"Step 1/3 : FROM nothing\n"}{"errorDetail":{"message":"pull access denied"},"error":"pull access denied"}`,
			err:    "pull access denied (output: Step 1/3 : FROM nothing)",
		},
		{name: "truncated", stream: `{"stream":"Step`, err: "read build output"},
		{name: "no id", stream: `{"stream":"done"}`, err: "no image id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := readBuildStream(bytes.NewBufferString(tt.stream))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil || id != tt.id {
				t.Fatalf("readBuildStream = %q, %v; want %q", id, err, tt.id)
			}
		})
	}
}
