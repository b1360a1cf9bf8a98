package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla/flotilla/internal/datadir"
	"github.com/flotilla/flotilla/internal/testport"
)

// banner runs a server with cfg until it has printed its banner, and
// returns the banner.
func banner(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", testport.Free(t))
	cfg.LogLevel = "error"
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- NewMain(cfg, pw, io.Discard).Run(ctx); pw.Close() }()
	var b strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "export AWS_ENDPOINT_URL=") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	cancel()
	// A goroutine of the server may see the cancel before the server
	// does, and its error is the cancel's.
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("server: %v", err)
	}
	return b.String()
}

// TestBannerSecret checks that the start-up banner shows the account's
// secret when the server generated the pair, on every start, and never
// one the user gave; and that the server leaves its data dir owner-only.
func TestBannerSecret(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	generated := banner(t, cfg)
	creds, _, err := LoadOrCreateCredentials(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if !strings.Contains(generated, "export AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey+"\n") {
			t.Fatalf("the generated secret is not in the banner:\n%s", generated)
		}
		generated = banner(t, cfg)
	}
	if open, err := datadir.Check(cfg.DataDir); err != nil || len(open) > 0 {
		t.Fatalf("data dir not owner-only: %v, %v", open, err)
	}
	if fi, err := os.Stat(DefaultMasterKeyFile(cfg.DataDir)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v, %v", fi, err)
	}

	cfg.AccessKeyID, cfg.SecretAccessKey = "AKIAGIVENBYTHEUSER01", "givenSecretOfTheUser/0123456789abcdefghij"
	given := banner(t, cfg)
	if strings.Contains(given, cfg.SecretAccessKey) {
		t.Fatalf("the given secret is in the banner:\n%s", given)
	}
	if !strings.Contains(given, "export AWS_ACCESS_KEY_ID="+cfg.AccessKeyID+"\n") {
		t.Fatalf("the given access key id is not in the banner:\n%s", given)
	}
}
