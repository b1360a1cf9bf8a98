package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/flotilla/flotilla/internal/link"
)

// State is what the agent keeps on disk so that a restart loses nothing: its
// instance, the tasks it manages with their containers, and the reports it
// has yet to deliver.
type State struct {
	ClusterARN  string `json:"clusterArn,omitempty"`
	InstanceARN string `json:"instanceArn,omitempty"`
	// Credentials are the instance's own, from the server.
	Credentials *link.Credentials `json:"credentials,omitempty"`
	// Seq is the newest task set applied.
	Seq   int64                 `json:"seq"`
	Tasks map[string]*TaskState `json:"tasks"`
	// Queue holds the state changes not yet acknowledged by the server, in
	// the order they happened.
	Queue []Report `json:"queue"`
	// NextReport numbers reports.
	NextReport int64 `json:"nextReport"`
	// Forgotten remembers tasks whose records were cleaned up, for longer
	// than the server keeps stopped tasks, so that none is started again.
	Forgotten map[string]time.Time `json:"forgotten,omitempty"`
}

// forgottenFor is how long a cleaned-up task's ARN is remembered: well past
// the server's retention of stopped tasks (an hour).
const forgottenFor = 6 * time.Hour

// queued reports whether a state change for the task is still to be sent.
func (s *State) queued(arn string) bool {
	for _, r := range s.Queue {
		var t struct {
			Task string `json:"task"`
		}
		if json.Unmarshal(r.Task, &t) == nil && t.Task == arn {
			return true
		}
	}
	return false
}

// TaskState is one task the agent manages.
type TaskState struct {
	ARN           string                      `json:"arn"`
	Family        string                      `json:"family"`
	Revision      int                         `json:"revision"`
	Definition    json.RawMessage             `json:"definition"`
	Overrides     json.RawMessage             `json:"overrides,omitempty"`
	DesiredStatus string                      `json:"desiredStatus"`
	StopReason    string                      `json:"stopReason,omitempty"`
	Status        string                      `json:"status"` // the last status reported
	Containers    map[string]*ContainerRecord `json:"containers"`
	// Done is set once STOPPED has been reported: the task never starts again.
	Done      bool      `json:"done"`
	StoppedAt time.Time `json:"stoppedAt,omitzero"`
}

// ContainerRecord ties a task's container to the runtime's container.
type ContainerRecord struct {
	Name      string `json:"name"`
	RuntimeID string `json:"runtimeId,omitempty"`
	Status    string `json:"status"` // PENDING, RUNNING, STOPPED as reported
	ExitCode  *int   `json:"exitCode,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Health    string `json:"health,omitempty"`
}

// Report is one state change to deliver to the server.
type Report struct {
	ID int64 `json:"id"`
	// Task is a SubmitTaskStateChange request body in ECS's JSON.
	Task json.RawMessage `json:"task"`
}

// stateFile persists State atomically (write, fsync, rename).
type stateFile struct {
	mu   sync.Mutex
	path string
	st   State
}

func openState(dir string) (*stateFile, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create agent data dir: %w", err)
	}
	f := &stateFile{path: filepath.Join(dir, "agent-state.json"), st: State{Tasks: map[string]*TaskState{}}}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read agent state: %w", err)
	}
	if err := json.Unmarshal(b, &f.st); err != nil {
		return nil, fmt.Errorf("read agent state %s: %w", f.path, err)
	}
	if f.st.Tasks == nil {
		f.st.Tasks = map[string]*TaskState{}
	}
	return f, nil
}

// update changes the state under the lock and saves it.
func (f *stateFile) update(fn func(*State)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.st)
	return f.saveLocked()
}

// view reads the state under the lock.
func (f *stateFile) view(fn func(*State)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.st)
}

func (f *stateFile) saveLocked() error {
	b, err := json.Marshal(&f.st)
	if err != nil {
		return fmt.Errorf("encode agent state: %w", err)
	}
	tmp := f.path + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save agent state: %w", err)
	}
	if _, err := fh.Write(b); err != nil {
		fh.Close()
		return fmt.Errorf("save agent state: %w", err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("save agent state: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("save agent state: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("save agent state: %w", err)
	}
	return nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
