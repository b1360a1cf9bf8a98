package datadir

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSecure checks that what an earlier release left group- or
// world-readable becomes owner-only, except the content of an opaque
// directory.
func TestSecure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, d := range []string{"logs/task1", "volumes/task1/v"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"state.db", "logs/task1/web.log", "volumes/task1/v/index.html"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if open, err := Check(dir, "volumes"); err != nil || len(open) != 6 {
		t.Fatalf("before: Check = %v, %v; want 6 paths", open, err)
	}
	if err := Secure(dir, "volumes"); err != nil {
		t.Fatal(err)
	}
	if open, err := Check(dir, "volumes"); err != nil || len(open) != 0 {
		t.Fatalf("after: Check = %v, %v; want none", open, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "volumes", "task1", "v", "index.html"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("a volume's file: %v, %v; want it left 0644", fi.Mode(), err)
	}
}
