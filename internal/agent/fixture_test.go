package agent

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla/flotilla/internal/link"
)

// writeFixture, when set, names the directory under testdata/upgrade that
// TestWriteStateFixture fills with a state file written by the code being
// built: `go test ./internal/agent -run TestWriteStateFixture
// -write-fixture=0.1.0`. Do it once per release whose layout changed,
// before changing it, and check the directory in.
var writeFixture = flag.String("write-fixture", "", "write the upgrade fixture testdata/upgrade/NAME with this code")

// stateFixture is what a fixture's state file holds: expected.json beside
// it.
type stateFixture struct {
	InstanceARN string           `json:"instanceArn"`
	Credentials link.Credentials `json:"credentials"`
	TaskARN     string           `json:"taskArn"`
}

// TestWriteStateFixture writes an agent state file fixture when
// -write-fixture is given: an instance with its credentials, a task with a
// container, a queued report. Without the flag it passes.
func TestWriteStateFixture(t *testing.T) {
	if *writeFixture == "" {
		return
	}
	dir := filepath.Join("testdata", "upgrade", *writeFixture)
	// A fixture is what a release wrote: never written again by later code.
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists: a fixture is kept as its release wrote it; name a new one", dir)
	}
	f := stateFixture{
		InstanceARN: "arn:aws:ecs:us-east-1:123456789012:container-instance/default/0b3f6c2e8d1a4f5e9c7b2a1d3e4f5a6b",
		Credentials: link.Credentials{AccessKeyID: "FLTIFIXTURE0000000001", SecretAccessKey: "fixtureSecretOfTheInstance0123456789abcd"},
		TaskARN:     "arn:aws:ecs:us-east-1:123456789012:task/default/5a6b7c8d9e0f41a2b3c4d5e6f7a8b9c0",
	}
	sf, err := openState(dir, testKeyring(t))
	if err != nil {
		t.Fatal(err)
	}
	err = sf.update(func(s *State) {
		s.InstanceARN, s.ClusterARN = f.InstanceARN, "arn:aws:ecs:us-east-1:123456789012:cluster/default"
		s.Credentials = &f.Credentials
		s.Seq = 7
		s.Tasks[f.TaskARN] = &TaskState{ARN: f.TaskARN, Family: "web", Revision: 1,
			Definition:    json.RawMessage(`{"family":"web","containerDefinitions":[{"name":"web","image":"nginx:1.27","memory":64}]}`),
			DesiredStatus: "RUNNING", Status: "RUNNING",
			Containers: map[string]*ContainerRecord{"web": {Name: "web", RuntimeID: "4f1c0ffee", Status: "RUNNING"}}}
		s.Queue = []Report{{ID: 1, Task: json.RawMessage(`{"cluster":"default","task":"` + f.TaskARN + `","status":"RUNNING"}`)}}
		s.NextReport = 2
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "expected.json"), append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}
