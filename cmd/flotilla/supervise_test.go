package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/supervisor"
	"github.com/flotilla/flotilla/internal/testport"
)

// TestUpAgentFailureStopsServer checks that the server's parts run under
// one supervisor: the agent of flotilla up starts once the API serves (it
// creates the default cluster through it), and its failure stops the
// server, which returns it named by the component and leaves its listener
// closed.
func TestUpAgentFailureStopsServer(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", testport.Free(t))
	cfg.LogLevel = "error"
	m := NewMain(cfg, io.Discard, io.Discard)
	ac := DefaultAgentConfig()
	ac.DockerHost = "not a docker host"
	m.Agent = &ac
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := m.Run(ctx)
	var se *supervisor.Error
	if !errors.As(err, &se) || se.Component != "agent" || !strings.Contains(err.Error(), "agent: start: docker client") {
		t.Fatalf("Run = %v, want the agent's start failure", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatalf("the API listener is still open: %v", err)
	}
	ln.Close()

	st, _, err := openState(ctx, cfg.DataDir, DefaultMasterKeyFile(cfg.DataDir), m.log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kvs, _, err := st.List(ctx, "", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if strings.Contains(kv.Key, "clusters/default") {
			return
		}
	}
	t.Fatal("the agent started before the API served: no default cluster")
}
