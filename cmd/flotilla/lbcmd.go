package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/cabundle"
	"github.com/flotilla/flotilla/internal/datadir"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/lbnode"
)

// LBConfig is what `flotilla lb` needs, filled from flags and the
// environment.
type LBConfig struct {
	Server          string
	CABundle        string
	NodeID          string
	BindAddress     string
	DataDir         string
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	MetricsListen   string
	LogLevel        string
}

// DefaultLBConfig returns the defaults of `flotilla lb`.
func DefaultLBConfig() LBConfig {
	return LBConfig{Server: "http://127.0.0.1:9400", Region: "us-east-1", LogLevel: "info"}
}

// RegisterFlags binds the config to a flag set.
func (c *LBConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Server, "server", c.Server, "URL of the Flotilla server's API")
	caBundleFlag(fs, &c.CABundle)
	fs.StringVar(&c.NodeID, "node-id", c.NodeID, "name of this node among the server's load balancer nodes (default: kept in --data-dir, or the host name and a random suffix)")
	fs.StringVar(&c.BindAddress, "bind-address", c.BindAddress, "IP address every listener binds (default 127.0.0.1)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory that keeps the node id across restarts (optional: the node keeps no other state)")
	fs.StringVar(&c.Region, "region", c.Region, "region whose load balancers to serve")
	fs.StringVar(&c.AccessKeyID, "access-key-id", firstEnv("FLOTILLA_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"), "access key id (env FLOTILLA_ACCESS_KEY_ID or AWS_ACCESS_KEY_ID)")
	fs.StringVar(&c.SecretAccessKey, "secret-access-key", firstEnv("FLOTILLA_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"), "secret access key (env FLOTILLA_SECRET_ACCESS_KEY or AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", c.MetricsListen, "address to serve Prometheus metrics on at /metrics (default: none)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
}

// Validate reports the first invalid setting.
func (c *LBConfig) Validate() error {
	switch {
	case c.Server == "":
		return errors.New("--server must be set")
	case c.AccessKeyID == "" || c.SecretAccessKey == "":
		return errors.New("credentials must be set: --access-key-id and --secret-access-key, or the environment")
	case c.NodeID != "" && !lbnode.ValidNode(c.NodeID):
		return fmt.Errorf("--node-id %q: at most 128 letters, digits, '.', '_' or '-'", c.NodeID)
	}
	if c.BindAddress != "" {
		if _, err := netip.ParseAddr(c.BindAddress); err != nil {
			return fmt.Errorf("--bind-address %q is not an IP address", c.BindAddress)
		}
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("--metrics-listen %q: %w", c.MetricsListen, err)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// nodeIDFile keeps a node's id in its data directory.
const nodeIDFile = "node-id"

// nodeID returns the configured node id, the one kept in the data
// directory (made and kept there on first start), or a new one.
func (c *LBConfig) nodeID() (string, error) {
	if c.NodeID != "" {
		return c.NodeID, nil
	}
	if c.DataDir == "" {
		return newNodeID(), nil
	}
	if err := datadir.Secure(c.DataDir); err != nil {
		return "", err
	}
	path := filepath.Join(c.DataDir, nodeIDFile)
	if b, err := os.ReadFile(path); err == nil {
		id := strings.TrimSpace(string(b))
		if !lbnode.ValidNode(id) {
			return "", fmt.Errorf("%s: not a valid node id", path)
		}
		return id, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read the node id: %w", err)
	}
	id := newNodeID()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the node id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write the node id: %w", err)
	}
	return id, nil
}

// runLB is `flotilla lb`: a load balancer node that serves the listeners
// of the server's ELBv2 state and reports its targets' health to it.
func runLB(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := DefaultLBConfig()
	fs := flag.NewFlagSet("flotilla lb", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if run, err := parseFlags(fs, args); !run {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	tlsConf, err := cabundle.ForServer(cfg.Server, cfg.CABundle)
	if err != nil {
		return err
	}
	id, err := cfg.nodeID()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	node, err := lbnode.NewNode(lbnode.NodeConfig{
		ID:          id,
		Source:      lbnode.NewHTTPSource(cfg.Server, cfg.Region, cfg.AccessKeyID, cfg.SecretAccessKey, tlsConf),
		LB:          lb.Options{Logger: log, Registerer: reg},
		BindAddress: cfg.BindAddress,
		Logger:      log,
		Registerer:  reg,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.MetricsListen != "" {
		ln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln)
		defer hs.Close()
		log.Info("serving metrics", "component", "main", "addr", ln.Addr().String())
	}
	log.Info("load balancer node starting", "component", "main", "node", id, "server", cfg.Server,
		"bind_address", cfg.BindAddress, "version", flotilla.Version)
	return node.Run(ctx)
}
