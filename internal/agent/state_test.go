package agent

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla/flotilla/internal/datadir"
	"github.com/flotilla/flotilla/internal/seal"
)

func testKeyring(t testing.TB) *seal.Keyring {
	t.Helper()
	k, _, err := seal.LoadOrCreate(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestStateUpgrade opens every state file fixture that an earlier release
// wrote (testdata/upgrade/*): the instance, its credentials, its tasks and
// queued reports are all there, and once opened the file holds the
// credentials sealed only, and is owner-only with its directory.
func TestStateUpgrade(t *testing.T) {
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "upgrade", "*", "agent-state.json"))
	if len(fixtures) == 0 {
		t.Fatal("no fixtures")
	}
	for _, fx := range fixtures {
		t.Run(filepath.Base(filepath.Dir(fx)), func(t *testing.T) {
			var want stateFixture
			readJSON(t, filepath.Join(filepath.Dir(fx), "expected.json"), &want)
			dir := t.TempDir()
			b, err := os.ReadFile(fx)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "agent-state.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			keys := testKeyring(t)
			f, err := openState(dir, keys)
			if err != nil {
				t.Fatal(err)
			}
			f.view(func(s *State) {
				if s.InstanceARN != want.InstanceARN || s.Credentials == nil || *s.Credentials != want.Credentials {
					t.Fatalf("instance %s, credentials %+v; want %s, %+v", s.InstanceARN, s.Credentials, want.InstanceARN, want.Credentials)
				}
				if ts := s.Tasks[want.TaskARN]; ts == nil || len(ts.Containers) == 0 || len(s.Queue) == 0 {
					t.Fatalf("tasks %+v, queue %+v", s.Tasks, s.Queue)
				}
			})
			raw, err := os.ReadFile(filepath.Join(dir, "agent-state.json"))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(want.Credentials.SecretAccessKey)) {
				t.Fatalf("the instance secret is in the state file in plaintext:\n%s", raw)
			}
			if open, err := datadir.Check(dir); err != nil || len(open) > 0 {
				t.Fatalf("not owner-only: %v, %v", open, err)
			}
			// Reopened, the sealed credentials open; with another key
			// they do not.
			g, err := openState(dir, keys)
			if err != nil {
				t.Fatal(err)
			}
			g.view(func(s *State) {
				if s.Credentials == nil || *s.Credentials != want.Credentials {
					t.Fatalf("reopened credentials %+v", s.Credentials)
				}
			})
			if _, err := openState(dir, testKeyring(t)); err == nil {
				t.Fatal("a state file sealed with another key opened")
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
