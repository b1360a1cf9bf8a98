package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runApp runs testapp with args and returns its exit code and output.
func runApp(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = run(args, &env{stdout: &out, stderr: &errOut, signals: make(chan os.Signal)})
	return code, out.String(), errOut.String()
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring expected in stdout
		stderr     string // substring expected in stderr
		fileAfter  string // content of file afterwards, if not ""
		skipStdout bool
	}{
		{name: "no command", args: nil, code: exitUsage, stderr: "usage:"},
		{name: "unknown command", args: []string{"nope"}, code: exitUsage, stderr: `unknown command "nope"`},
		{name: "exit code", args: []string{"exit", "-code", "3", "-after", "1ms"}, code: 3, stdout: "exiting with code 3"},
		{name: "exit bad flag", args: []string{"exit", "-code", "x"}, code: exitUsage},
		{name: "exit stray argument", args: []string{"exit", "3"}, code: exitUsage, stderr: "unexpected arguments"},
		{name: "sleep positional", args: []string{"sleep", "1ms"}, code: exitOK, stdout: "sleeping for 1ms"},
		{name: "sleep flag", args: []string{"sleep", "-for", "1ms"}, code: exitOK, stdout: "sleeping for 1ms"},
		{name: "sleep bad duration", args: []string{"sleep", "soon"}, code: exitUsage},
		{name: "burn", args: []string{"burn", "-cpus", "2", "-for", "10ms"}, code: exitOK, stdout: "burning 2 cpus"},
		{name: "burn no cpus", args: []string{"burn", "-cpus", "0"}, code: exitUsage},
		{name: "log", args: []string{"log", "-every", "1ms", "-n", "3"}, code: exitOK, stdout: "stdout 1\nstdout 2\nstdout 3\n", stderr: "stderr 1\nstderr 2\nstderr 3\n"},
		{name: "write", args: []string{"write", "-path", file, "-text", "hello"}, code: exitOK, fileAfter: "hello"},
		{name: "write no path", args: []string{"write", "-text", "x"}, code: exitUsage, stderr: "-path is required"},
		{name: "write missing dir", args: []string{"write", "-path", filepath.Join(dir, "no", "f"), "-text", "x"}, code: exitFail},
		{name: "touch", args: []string{"touch", "-path", filepath.Join(dir, "t")}, code: exitOK},
		{name: "touch missing dir", args: []string{"touch", "-path", filepath.Join(dir, "no", "t")}, code: exitFail, stderr: "no such file"},
		{name: "cat missing", args: []string{"cat", "-path", filepath.Join(dir, "missing")}, code: exitFail},
		{name: "check no url", args: []string{"check"}, code: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runApp(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.stderr)
			}
			if tt.fileAfter != "" {
				got, err := os.ReadFile(file)
				if err != nil || string(got) != tt.fileAfter {
					t.Errorf("file = %q, %v; want %q", got, err, tt.fileAfter)
				}
			}
		})
	}
}

func TestWriteCat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := runApp(t, "write", "-path", path, "-text", "round trip"); code != exitOK {
		t.Fatalf("write: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runApp(t, "cat", "-path", path)
	if code != exitOK || stdout != "round trip" {
		t.Fatalf("cat = %d, %q (stderr %q); want 0, %q", code, stdout, stderr, "round trip")
	}
}

func TestCheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer slow.Close()

	tests := []struct {
		name string
		args []string
		code int
	}{
		{"2xx", []string{"-url", ok.URL}, exitOK},
		{"5xx", []string{"-url", failing.URL}, exitFail},
		{"timeout", []string{"-url", slow.URL, "-timeout", "50ms"}, exitFail},
		{"refused", []string{"-url", "http://127.0.0.1:1/"}, exitFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runApp(t, append([]string{"check"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, stderr)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	t.Setenv("GREETING", "bonjour")
	srv := httptest.NewServer(newServer().handler())
	defer srv.Close()

	do := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}

	// Each step runs in order: the health steps depend on the ones before.
	steps := []struct {
		method, path string
		code         int
		body         string // substring
	}{
		{"GET", "/", 200, "greeting=bonjour"},
		{"GET", "/", 200, "host=" + hostname()},
		{"GET", "/books/1", 200, "path=/books/1"},
		{"POST", "/nope", 405, ""},
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/unhealthy", 200, "path=/unhealthy"}, // only POST changes health
		{"POST", "/unhealthy", 200, ""},
		{"GET", "/healthz", 503, "unhealthy"},
		{"POST", "/healthy", 200, ""},
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/sleep?d=1ms", 200, "slept 1ms"},
		{"GET", "/sleep?d=later", 400, ""},
	}
	for _, s := range steps {
		code, body := do(s.method, s.path)
		if code != s.code || !strings.Contains(body, s.body) {
			t.Errorf("%s %s = %d %q, want %d containing %q", s.method, s.path, code, body, s.code, s.body)
		}
	}

	code, body := do("GET", "/env")
	var vars map[string]string
	if err := json.Unmarshal([]byte(body), &vars); err != nil || code != 200 {
		t.Fatalf("GET /env = %d %q: %v", code, body, err)
	}
	if vars["GREETING"] != "bonjour" {
		t.Errorf("GET /env GREETING = %q, want %q", vars["GREETING"], "bonjour")
	}
}

// startServe runs serve on a free port and returns its URL, its stdout, the
// signal channel and a channel receiving its exit code.
func startServe(t *testing.T, args ...string) (string, *syncBuffer, chan<- os.Signal, <-chan int) {
	t.Helper()
	var out, errOut syncBuffer
	signals := make(chan os.Signal)
	done := make(chan int, 1)
	go func() {
		done <- run(append([]string{"serve", "-addr", "127.0.0.1:0"}, args...), &env{stdout: &out, stderr: &errOut, signals: signals})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if line, ok := strings.CutPrefix(out.String(), "listening on "); ok {
			return "http://" + strings.TrimSpace(line), &out, signals, done
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %s", code, errOut.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not start listening")
		}
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	url, out, signals, done := startServe(t)
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	signals <- syscall.SIGTERM
	if code := <-done; code != exitOK {
		t.Fatalf("exit code = %d, want 0", code)
	}
	if !strings.Contains(out.String(), "received SIGTERM, shutting down") {
		t.Errorf("stdout = %q, want the shutdown logged", out.String())
	}
}

func TestServeIgnoreTerm(t *testing.T) {
	url, out, signals, done := startServe(t, "-ignore-term")
	signals <- syscall.SIGTERM
	signals <- syscall.SIGTERM // received only once the first was handled
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("server gone after SIGTERM: %v", err)
	}
	resp.Body.Close()
	if !strings.Contains(out.String(), "received SIGTERM, ignoring it") {
		t.Errorf("stdout = %q, want the ignored signal logged", out.String())
	}
	signals <- os.Interrupt
	if code := <-done; code != exitOK {
		t.Fatalf("exit code = %d, want 0", code)
	}
}

func TestSignalEndsCommands(t *testing.T) {
	for _, args := range [][]string{
		{"sleep"},
		{"exit", "-code", "0", "-after", "1h"},
		{"burn", "-for", "0"},
		{"log", "-n", "0", "-every", "1ms"},
	} {
		t.Run(args[0], func(t *testing.T) {
			var out, errOut syncBuffer
			signals := make(chan os.Signal)
			done := make(chan int, 1)
			go func() { done <- run(args, &env{stdout: &out, stderr: &errOut, signals: signals}) }()
			signals <- syscall.SIGTERM
			if code := <-done; code != exitTerm {
				t.Fatalf("exit code = %d, want %d", code, exitTerm)
			}
			if !strings.Contains(errOut.String(), "terminated by SIGTERM") {
				t.Errorf("stderr = %q, want the signal named", errOut.String())
			}
		})
	}
}
