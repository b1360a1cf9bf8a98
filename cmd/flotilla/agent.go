package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/flotilla/flotilla/internal/agent"
	"github.com/flotilla/flotilla/internal/agent/docker"
	"github.com/flotilla/flotilla/internal/cabundle"
	"github.com/flotilla/flotilla/internal/seal"
)

// AgentConfig is what `flotilla agent` needs, filled from flags and the
// environment.
type AgentConfig struct {
	Server            string
	CABundle          string
	Cluster           string
	DataDir           string
	MasterKeyFile     string
	Region            string
	AccessKeyID       string
	SecretAccessKey   string
	Attributes        attributeFlag
	CPU               int
	MemoryMiB         int
	ReservedMemoryMiB int
	AllowPrivileged   bool
	DockerHost        string
	Address           string
	CleanupWait       time.Duration
	LogLevel          string
}

// attributeFlag collects repeated --attribute name=value flags.
type attributeFlag map[string]string

func (a attributeFlag) String() string { return fmt.Sprint(map[string]string(a)) }

func (a attributeFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", v)
	}
	a[name] = value
	return nil
}

// RegisterFlags binds the agent config to a flag set.
func (c *AgentConfig) RegisterFlags(fs *flag.FlagSet, withServer bool) {
	if c.Attributes == nil {
		c.Attributes = attributeFlag{}
	}
	if withServer {
		fs.StringVar(&c.Server, "server", c.Server, "URL of the Flotilla server's API")
		caBundleFlag(fs, &c.CABundle)
		fs.StringVar(&c.Cluster, "cluster", c.Cluster, "cluster to join")
		fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the agent's state and kept task logs")
		masterKeyFlag(fs, &c.MasterKeyFile)
		fs.StringVar(&c.Region, "region", c.Region, "region to join the cluster in (its resources are the region's)")
		fs.StringVar(&c.AccessKeyID, "access-key-id", firstEnv("FLOTILLA_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"), "access key id (env FLOTILLA_ACCESS_KEY_ID or AWS_ACCESS_KEY_ID)")
		fs.StringVar(&c.SecretAccessKey, "secret-access-key", firstEnv("FLOTILLA_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"), "secret access key (env FLOTILLA_SECRET_ACCESS_KEY or AWS_SECRET_ACCESS_KEY)")
		fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	}
	fs.Var(c.Attributes, "attribute", "instance attribute name=value (repeatable), e.g. ecs.availability-zone=us-east-1b")
	fs.IntVar(&c.CPU, "cpu", c.CPU, "CPU units to offer (1024 per core); 0 means the machine's")
	fs.IntVar(&c.MemoryMiB, "memory", c.MemoryMiB, "memory MiB to offer; 0 means the machine's less --reserved-memory")
	fs.IntVar(&c.ReservedMemoryMiB, "reserved-memory", c.ReservedMemoryMiB, "memory MiB kept back for the host")
	fs.BoolVar(&c.AllowPrivileged, "allow-privileged", c.AllowPrivileged, "let tasks run privileged containers")
	fs.StringVar(&c.DockerHost, "docker-host", c.DockerHost, "Docker Engine address (default: DOCKER_HOST or the local socket)")
	fs.StringVar(&c.Address, "address", c.Address, "address where this host's published ports are reachable by the load balancer (default: the local address of the route to the server)")
	fs.DurationVar(&c.CleanupWait, "cleanup-wait", c.CleanupWait, "how long a stopped task's containers are kept")
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// DefaultAgentConfig returns the agent defaults.
func DefaultAgentConfig() AgentConfig {
	return AgentConfig{Server: "http://127.0.0.1:9400", Cluster: "default", DataDir: ".flotilla-agent", Region: "us-east-1",
		ReservedMemoryMiB: 256, CleanupWait: time.Hour, LogLevel: "info", Attributes: attributeFlag{}}
}

// Validate reports the first invalid setting.
func (c *AgentConfig) Validate() error {
	switch {
	case c.Server == "":
		return errors.New("--server must be set")
	case c.AccessKeyID == "" || c.SecretAccessKey == "":
		return errors.New("credentials must be set: --access-key-id and --secret-access-key, or the environment")
	case c.CPU < 0 || c.MemoryMiB < 0 || c.ReservedMemoryMiB < 0:
		return errors.New("--cpu, --memory and --reserved-memory must not be negative")
	}
	return nil
}

// newAgent builds an agent over the local Docker Engine. Its state is
// sealed with keys, or, when nil, with the key of c.MasterKeyFile.
func newAgent(c AgentConfig, keys *seal.Keyring, log *slog.Logger) (*agent.Agent, error) {
	tlsConf, err := cabundle.ForServer(c.Server, c.CABundle)
	if err != nil {
		return nil, err
	}
	if keys == nil {
		path := c.MasterKeyFile
		if path == "" {
			path = DefaultMasterKeyFile(c.DataDir)
		}
		k, created, err := seal.LoadOrCreate(path)
		if err != nil {
			return nil, err
		}
		if created {
			log.Info("created the master key that seals the instance's credentials at rest", "component", "main", "path", path)
		}
		keys = k
	}
	rt, err := docker.New(docker.Options{Host: c.DockerHost})
	if err != nil {
		return nil, err
	}
	return agent.New(agent.Config{
		Server: c.Server, TLS: tlsConf, Region: c.Region, AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
		Cluster: c.Cluster, DataDir: c.DataDir, Keyring: keys, Attributes: c.Attributes, CPU: c.CPU, MemoryMiB: c.MemoryMiB,
		ReservedMemoryMiB: c.ReservedMemoryMiB, AllowPrivileged: c.AllowPrivileged, Address: c.Address, CleanupWait: c.CleanupWait,
		Runtime: rt, Logger: log,
	})
}

// runAgent is `flotilla agent`.
func runAgent(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := DefaultAgentConfig()
	fs := flag.NewFlagSet("flotilla agent", flag.ContinueOnError)
	cfg.RegisterFlags(fs, true)
	if run, err := parseFlags(fs, args); !run {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	a, err := newAgent(cfg, nil, newLogger(stderr, cfg.LogLevel))
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
