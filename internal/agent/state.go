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

	"github.com/flotilla/flotilla/internal/datadir"
	"github.com/flotilla/flotilla/internal/link"
	"github.com/flotilla/flotilla/internal/seal"
)

// State is what the agent keeps on disk so that a restart loses nothing: its
// instance, the tasks it manages with their containers, and the reports it
// has yet to deliver.
type State struct {
	ClusterARN  string `json:"clusterArn,omitempty"`
	InstanceARN string `json:"instanceArn,omitempty"`
	// Credentials are the instance's own, from the server. On disk they
	// are sealed (stateOnDisk).
	Credentials *link.Credentials `json:"-"`
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

// stateOnDisk is the state file's JSON: State with the instance's
// credentials sealed (SealedCredentials, the JSON of link.Credentials
// sealed for credentialsContext). Credentials is what releases up to 0.1.0
// wrote, in plaintext: read, and sealed on the next save.
type stateOnDisk struct {
	*State
	Credentials       *link.Credentials `json:"credentials,omitempty"`
	SealedCredentials []byte            `json:"sealedCredentials,omitempty"`
}

// credentialsContext is the associated data the credentials are sealed
// for.
const credentialsContext = "agent-state.json:credentials"

// stateFile persists State atomically (write, fsync, rename).
type stateFile struct {
	mu   sync.Mutex
	path string
	keys *seal.Keyring
	st   State
}

// openState reads the state file in dir, sealing the instance's
// credentials with keys, and makes dir owner-only (but what the
// containers write in their volumes).
func openState(dir string, keys *seal.Keyring) (*stateFile, error) {
	if err := datadir.Secure(dir, "volumes"); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	f := &stateFile{path: filepath.Join(dir, "agent-state.json"), keys: keys, st: State{Tasks: map[string]*TaskState{}}}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read agent state: %w", err)
	}
	disk := stateOnDisk{State: &f.st}
	if err := json.Unmarshal(b, &disk); err != nil {
		return nil, fmt.Errorf("read agent state %s: %w", f.path, err)
	}
	if f.st.Tasks == nil {
		f.st.Tasks = map[string]*TaskState{}
	}
	switch {
	case disk.SealedCredentials != nil:
		plain, err := keys.Open(disk.SealedCredentials, credentialsContext)
		if err != nil {
			return nil, fmt.Errorf("read agent state %s: the instance credentials (master key %s): %w", f.path, keys.ID(), err)
		}
		var c link.Credentials
		if err := json.Unmarshal(plain, &c); err != nil {
			return nil, fmt.Errorf("read agent state %s: the instance credentials: %w", f.path, err)
		}
		f.st.Credentials = &c
	case disk.Credentials != nil:
		// Written in plaintext by an earlier release: sealed now.
		f.st.Credentials = disk.Credentials
		if err := f.saveLocked(); err != nil {
			return nil, err
		}
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
	disk := stateOnDisk{State: &f.st}
	if c := f.st.Credentials; c != nil {
		plain, _ := json.Marshal(c)
		sealed, err := f.keys.Seal(plain, credentialsContext)
		if err != nil {
			return fmt.Errorf("save agent state: %w", err)
		}
		disk.SealedCredentials = sealed
	}
	b, err := json.Marshal(&disk)
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
