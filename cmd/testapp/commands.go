package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	exitTerm  = 128 + 15 // as a shell reports death by SIGTERM
)

// env is what a command may touch of the process: its output streams and
// the termination signals it receives.
type env struct {
	stdout, stderr io.Writer
	signals        <-chan os.Signal
}

// signalError is the cancellation cause of a context ended by a signal.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "terminated by " + signalName(e.sig) }

// signalName names the signals testapp handles the way kill(1) does.
func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case os.Interrupt:
		return "SIGINT"
	}
	return s.String()
}

// untilSignal returns a context that ends when the first signal arrives.
func (e *env) untilSignal() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		select {
		case s := <-e.signals:
			cancel(signalError{s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// terminated reports whether ctx was ended by a signal, and says so on
// stderr.
func (e *env) terminated(ctx context.Context) bool {
	var se signalError
	if errors.As(context.Cause(ctx), &se) {
		fmt.Fprintln(e.stderr, "testapp:", se)
		return true
	}
	return false
}

type command struct {
	run   func(e *env, args []string) int
	usage string
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"serve": {serve, "serve [-addr :8080] [-ignore-term]"},
		"check": {check, "check -url URL [-timeout 2s]"},
		"exit":  {exit, "exit [-code 0] [-after 0s]"},
		"sleep": {sleep, "sleep [-for DURATION | DURATION]"},
		"burn":  {burn, "burn [-cpus 1] [-for 0s]"},
		"log":   {logLines, "log [-every 100ms] [-n 10]"},
		"write": {write, "write -path P -text T"},
		"cat":   {cat, "cat -path P"},
		"touch": {touch, "touch -path P"},
	}
}

// run runs the command named by args[0] and returns the exit code.
func run(args []string, e *env) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "testapp: unknown command %q\n", args[0])
		usage(e.stderr)
		return exitUsage
	}
	return cmd.run(e, args[1:])
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage:")
	for _, name := range names {
		fmt.Fprintln(w, "  testapp", commands[name].usage)
	}
}

// parse parses a command's flags; it returns false after reporting a usage
// error, including stray arguments unless extra is set.
func parse(e *env, fs *flag.FlagSet, args []string, extra bool) bool {
	fs.SetOutput(e.stderr)
	if err := fs.Parse(args); err != nil {
		return false
	}
	if !extra && fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "testapp %s: unexpected arguments %q\n", fs.Name(), fs.Args())
		return false
	}
	return true
}

func check(e *env, args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	url := fs.String("url", "", "`URL` to GET")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if !parse(e, fs, args, false) {
		return exitUsage
	}
	if *url == "" {
		fmt.Fprintln(e.stderr, "testapp check: -url is required")
		return exitUsage
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get(*url)
	if err != nil {
		fmt.Fprintln(e.stderr, "testapp check:", err)
		return exitFail
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(e.stderr, "testapp check: %s answered %s\n", *url, resp.Status)
		return exitFail
	}
	fmt.Fprintf(e.stdout, "%s answered %s\n", *url, resp.Status)
	return exitOK
}

func exit(e *env, args []string) int {
	fs := flag.NewFlagSet("exit", flag.ContinueOnError)
	code := fs.Int("code", 0, "exit `code`")
	after := fs.Duration("after", 0, "how long to wait before exiting")
	if !parse(e, fs, args, false) {
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "exiting with code %d after %s\n", *code, *after)
	ctx, cancel := e.untilSignal()
	defer cancel()
	if !wait(ctx, *after) && e.terminated(ctx) {
		return exitTerm
	}
	return *code
}

func sleep(e *env, args []string) int {
	fs := flag.NewFlagSet("sleep", flag.ContinueOnError)
	d := fs.Duration("for", 0, "how long to sleep; 0 sleeps until terminated")
	if !parse(e, fs, args, true) {
		return exitUsage
	}
	switch {
	case fs.NArg() == 1:
		var err error
		if *d, err = time.ParseDuration(fs.Arg(0)); err != nil {
			fmt.Fprintln(e.stderr, "testapp sleep:", err)
			return exitUsage
		}
	case fs.NArg() > 1:
		fmt.Fprintf(e.stderr, "testapp sleep: unexpected arguments %q\n", fs.Args()[1:])
		return exitUsage
	}
	if *d == 0 {
		fmt.Fprintln(e.stdout, "sleeping until terminated")
	} else {
		fmt.Fprintf(e.stdout, "sleeping for %s\n", *d)
	}
	ctx, cancel := e.untilSignal()
	defer cancel()
	if *d == 0 {
		<-ctx.Done()
	} else {
		wait(ctx, *d)
	}
	if e.terminated(ctx) {
		return exitTerm
	}
	return exitOK
}

func burn(e *env, args []string) int {
	fs := flag.NewFlagSet("burn", flag.ContinueOnError)
	cpus := fs.Int("cpus", 1, "how many cores to keep busy")
	d := fs.Duration("for", 0, "how long to burn; 0 burns until terminated")
	if !parse(e, fs, args, false) {
		return exitUsage
	}
	if *cpus < 1 {
		fmt.Fprintln(e.stderr, "testapp burn: -cpus must be at least 1")
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "burning %d cpus for %s\n", *cpus, *d)
	ctx, cancel := e.untilSignal()
	defer cancel()
	if *d > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, *d)
		defer stop()
	}
	var wg sync.WaitGroup
	for range *cpus {
		wg.Go(func() { spin(ctx) })
	}
	wg.Wait()
	if e.terminated(ctx) {
		return exitTerm
	}
	return exitOK
}

// spin keeps one core busy until ctx ends.
func spin(ctx context.Context) {
	x := uint64(1)
	for ctx.Err() == nil {
		for range 1 << 16 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		runtime.KeepAlive(x)
	}
}

func logLines(e *env, args []string) int {
	fs := flag.NewFlagSet("log", flag.ContinueOnError)
	every := fs.Duration("every", 100*time.Millisecond, "interval between lines")
	n := fs.Int("n", 10, "how many lines to print to each stream; 0 prints until terminated")
	if !parse(e, fs, args, false) {
		return exitUsage
	}
	ctx, cancel := e.untilSignal()
	defer cancel()
	for i := 1; *n == 0 || i <= *n; i++ {
		if i > 1 && !wait(ctx, *every) {
			break
		}
		fmt.Fprintf(e.stdout, "stdout %d\n", i)
		fmt.Fprintf(e.stderr, "stderr %d\n", i)
	}
	if e.terminated(ctx) {
		return exitTerm
	}
	return exitOK
}

// fileFlags parses the -path (required) and, with text set, -text flags.
func fileFlags(e *env, name string, args []string, text *string) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	path := fs.String("path", "", "file `path`")
	if text != nil {
		fs.StringVar(text, "text", "", "text to write")
	}
	if !parse(e, fs, args, false) {
		return "", false
	}
	if *path == "" {
		fmt.Fprintf(e.stderr, "testapp %s: -path is required\n", name)
		return "", false
	}
	return *path, true
}

func write(e *env, args []string) int {
	var text string
	path, ok := fileFlags(e, "write", args, &text)
	if !ok {
		return exitUsage
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		fmt.Fprintln(e.stderr, "testapp write:", err)
		return exitFail
	}
	return exitOK
}

func cat(e *env, args []string) int {
	path, ok := fileFlags(e, "cat", args, nil)
	if !ok {
		return exitUsage
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(e.stderr, "testapp cat:", err)
		return exitFail
	}
	defer f.Close()
	if _, err := io.Copy(e.stdout, f); err != nil {
		fmt.Fprintln(e.stderr, "testapp cat:", err)
		return exitFail
	}
	return exitOK
}

func touch(e *env, args []string) int {
	path, ok := fileFlags(e, "touch", args, nil)
	if !ok {
		return exitUsage
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "testapp touch:", err)
		return exitFail
	}
	return exitOK
}

// wait sleeps for d and reports whether it slept the whole time, false
// meaning ctx ended first.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// hostname is os.Hostname, or "unknown".
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(h)
}
