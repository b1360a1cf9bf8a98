package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// Main wires the concrete pieces of a server together and runs them.
type Main struct {
	cfg    Config
	stdout io.Writer
	log    *slog.Logger
}

// NewMain returns a Main that prints user-facing lines to stdout and logs to
// stderr.
func NewMain(cfg Config, stdout, stderr io.Writer) *Main {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return &Main{cfg: cfg, stdout: stdout, log: log}
}

// Run serves until ctx ends, then shuts down gracefully.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	creds := Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey}
	if creds.AccessKeyID == "" {
		c, generated, err := LoadOrCreateCredentials(cfg.DataDir)
		if err != nil {
			return err
		}
		creds = c
		if generated {
			m.log.Info("generated credentials", "component", "main", "path", filepath.Join(cfg.DataDir, credentialsFile))
		}
	}

	statePath := filepath.Join(cfg.DataDir, "state.db")
	st, err := bolt.Open(statePath, bolt.Options{Logger: m.log})
	if err != nil {
		return fmt.Errorf("open state: %w", err)
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	account := flotilla.Account{Region: cfg.Region, ID: cfg.AccountID}
	srv := api.NewServer(api.Config{
		Credentials: sigv4.StaticCredentials{creds.AccessKeyID: creds.SecretAccessKey},
		Region:      cfg.Region,
		Logger:      m.log,
		Registerer:  reg,
		Gatherer:    reg,
	})
	srv.HandleJSON(ecs.New(ecs.Config{Store: st, Account: account, Logger: m.log}).JSONService())

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	endpoint := "http://" + ln.Addr().String()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	m.log.Info("serving", "component", "main", "endpoint", endpoint, "data_dir", cfg.DataDir,
		"region", cfg.Region, "account_id", cfg.AccountID, "version", flotilla.Version)
	fmt.Fprintf(m.stdout, "Flotilla %s is serving the ECS API at %s\nPoint the aws CLI at it with:\n\n%s\n",
		flotilla.Version, endpoint, ExportLines(creds, cfg.Region, endpoint))

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	m.log.Info("shutting down", "component", "main")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
