package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/lbnode"
	"github.com/flotilla/flotilla/internal/store"
)

// loadBalancing is the server's part of the load balancers' data plane:
// the source nodes follow (served to `flotilla lb` processes at
// lbnode.Path), the health their reports add up to, and the node that
// runs in the server's own process.
type loadBalancing struct {
	st     store.Store
	source *lbnode.StoreSource
	node   *lbnode.Node
}

// newLoadBalancing builds the server's data plane parts. The in-process
// node is named after the host and the data directory, so that a restarted
// server replaces its own report. Its client connections count against
// limit, which it shares with the other regions' nodes.
func newLoadBalancing(st store.Store, dataDir string, limit *lb.ConnLimit, log *slog.Logger, reg prometheus.Registerer) (*loadBalancing, error) {
	src := lbnode.NewStoreSource(st, lbnode.StoreSourceOptions{Logger: log})
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sum := sha256.Sum256([]byte(abs))
	node, err := lbnode.NewNode(lbnode.NodeConfig{
		ID:         nodeName(hostname()) + "-server-" + hex.EncodeToString(sum[:4]),
		Source:     src,
		LB:         lb.Options{Logger: log, Registerer: reg, ConnLimit: limit},
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	return &loadBalancing{st: st, source: src, node: node}, nil
}

// Health is the merged health of the live nodes' reports, for
// DescribeTargetHealth.
func (l *loadBalancing) Health(ctx context.Context, targetGroupARN string) ([]lb.TargetHealth, error) {
	return lbnode.TargetHealth(ctx, l.st, time.Now(), targetGroupARN)
}

// ListenerErrors are the live nodes' reports of the listeners they could
// not open, for the load balancers' State.
func (l *loadBalancing) ListenerErrors(ctx context.Context) (map[string]string, error) {
	return lbnode.ListenerErrors(ctx, l.st, time.Now())
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "host"
	}
	return h
}

// nodeName keeps the characters of s a node name may have.
func nodeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// newNodeID returns a node name for a `flotilla lb` process: the host name
// and a random suffix.
func newNodeID() string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%s", nodeName(hostname()), hex.EncodeToString(b[:]))
}
