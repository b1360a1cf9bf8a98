package bolt

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/flotilla/flotilla/internal/store"
)

// crashChildEnv, when set, makes TestCrashRecovery the child: it writes to
// the store file named by the variable until it is killed.
const crashChildEnv = "FLOTILLA_BOLT_CRASH_CHILD"

// TestCrashRecovery kills a process with SIGKILL while 50 goroutines write
// to the store, then checks that every write the child had acknowledged is
// in the file. The child prints "ack <key> <rev>" as soon as Txn returns nil;
// the value of a key is derived from the key.
func TestCrashRecovery(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path, os.Getenv(crashChildEnv+"_RUN"))
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := tempPath(t)
	acked := map[string]int64{}
	for run := range 4 {
		killAfter := 300 + 150*run
		got := runCrashChild(t, path, run, killAfter)
		if len(got) < killAfter {
			t.Fatalf("run %d: the child acknowledged %d writes before dying, want at least %d", run, len(got), killAfter)
		}
		for k, r := range got {
			acked[k] = r
		}

		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("run %d: reopen after SIGKILL: %v", run, err)
		}
		rev, _ := s.Rev(t.Context())
		for k, r := range acked {
			kv, err := s.Get(t.Context(), k)
			if err != nil {
				t.Fatalf("run %d: acknowledged key %s (revision %d): %v", run, k, r, err)
			}
			if string(kv.Value) != crashValue(k) || kv.ModRevision != r {
				t.Fatalf("run %d: key %s = %q at %d, want %q at %d", run, k, kv.Value, kv.ModRevision, crashValue(k), r)
			}
			if r > rev {
				t.Fatalf("run %d: store revision %d is below the acknowledged %d", run, rev, r)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: %d acknowledged writes before SIGKILL, %d in total, all present", run, len(got), len(acked))
	}
}

// runCrashChild starts the child, kills it after killAfter acknowledgements
// and returns every acknowledgement it printed.
func runCrashChild(t *testing.T, path string, run, killAfter int) map[string]int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashChildEnv+"_RUN="+strconv.Itoa(run))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]int64{}
	killed := false
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			break // a partial last line was never fully acknowledged
		}
		if err != nil {
			t.Fatalf("read child: %v", err)
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "ack" {
			continue // the test framework's own output
		}
		rev, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Fatalf("child line %q: %v", line, err)
		}
		acked[f[1]] = rev
		if !killed && len(acked) >= killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("kill child: %v", err)
			}
			killed = true
			// Keep reading: lines already in the pipe were acknowledged too.
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended by itself after %d acknowledgements: %v", len(acked), err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", err)
	}
	return acked
}

func crashValue(key string) string { return "value of " + key }

// crashChild writes from 50 goroutines until killed (or until a bound, so
// that an orphan does not run forever).
func crashChild(path, run string) {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 50 {
		wg.Go(func() {
			for i := range 2_000 {
				key := fmt.Sprintf("run%s/w%02d/%05d", run, w, i)
				rev, err := s.Txn(context.Background(), store.Txn{Ops: []store.Op{{Key: key, Value: []byte(crashValue(key))}}})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child: txn:", err)
					os.Exit(2)
				}
				mu.Lock()
				// One write(2) per line: a pipe write this small is atomic.
				_, err = fmt.Fprintf(os.Stdout, "ack %s %d\n", key, rev)
				mu.Unlock()
				if err != nil {
					os.Exit(2)
				}
			}
		})
	}
	wg.Wait()
	s.Close()
	os.Exit(0)
}
