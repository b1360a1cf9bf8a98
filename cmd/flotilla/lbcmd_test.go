package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla/flotilla/internal/datadir"
)

// TestLBDataDirOwnerOnly checks that flotilla lb keeps its node id, and
// makes its data dir owner-only, also one an earlier release left open.
func TestLBDataDirOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lb")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, nodeIDFile), []byte("node-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, nodeIDFile), 0o644)
	c := LBConfig{DataDir: dir}
	id, err := c.nodeID()
	if err != nil || id != "node-1" {
		t.Fatalf("nodeID = %q, %v", id, err)
	}
	if open, err := datadir.Check(dir); err != nil || len(open) > 0 {
		t.Fatalf("not owner-only: %v, %v", open, err)
	}
}
