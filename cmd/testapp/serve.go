package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// shutdownTimeout bounds a graceful shutdown.
const shutdownTimeout = 5 * time.Second

func serve(e *env, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", ":8080", "`address` to listen on")
	ignoreTerm := fs.Bool("ignore-term", false, "log and ignore SIGTERM")
	if !parse(e, fs, args, false) {
		return exitUsage
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(e.stderr, "testapp serve:", err)
		return exitFail
	}
	srv := &http.Server{Handler: newServer().handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(e.stdout, "listening on %s\n", ln.Addr())
	for {
		select {
		case err := <-errc:
			fmt.Fprintln(e.stderr, "testapp serve:", err)
			return exitFail
		case sig := <-e.signals:
			if *ignoreTerm && sig == syscall.SIGTERM {
				fmt.Fprintf(e.stdout, "received %s, ignoring it\n", signalName(sig))
				continue
			}
			fmt.Fprintf(e.stdout, "received %s, shutting down\n", signalName(sig))
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			err := srv.Shutdown(ctx)
			cancel()
			if err != nil {
				fmt.Fprintln(e.stderr, "testapp serve: shutdown:", err)
				return exitFail
			}
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintln(e.stderr, "testapp serve:", err)
				return exitFail
			}
			fmt.Fprintln(e.stdout, "shut down")
			return exitOK
		}
	}
}

// server is the state behind serve's HTTP handler.
type server struct {
	unhealthy atomic.Bool
}

func newServer() *server { return &server{} }

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", s.root)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("POST /unhealthy", func(w http.ResponseWriter, r *http.Request) {
		s.unhealthy.Store(true)
		fmt.Fprintln(w, "unhealthy")
	})
	mux.HandleFunc("POST /healthy", func(w http.ResponseWriter, r *http.Request) {
		s.unhealthy.Store(false)
		fmt.Fprintln(w, "healthy")
	})
	mux.HandleFunc("GET /env", s.env)
	mux.HandleFunc("GET /sleep", s.sleep)
	return mux
}

// root names the host, the greeting from $GREETING and the path; it
// answers every GET path the other handlers do not.
func (s *server) root(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "host=%s\ngreeting=%s\npath=%s\n", hostname(), os.Getenv("GREETING"), r.URL.Path)
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.unhealthy.Load() {
		http.Error(w, "unhealthy", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// env answers the process environment as a JSON object.
func (s *server) env(w http.ResponseWriter, r *http.Request) {
	vars := make(map[string]string)
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(vars)
}

// sleep answers after the duration in the query parameter d.
func (s *server) sleep(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil || d < 0 {
		http.Error(w, "d must be a duration such as 100ms", http.StatusBadRequest)
		return
	}
	if !wait(r.Context(), d) {
		return
	}
	fmt.Fprintf(w, "slept %s\n", d)
}
