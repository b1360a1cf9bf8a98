package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/backoff"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/seal"
)

// Config configures an agent.
type Config struct {
	// Server is the URL of the server's API.
	Server string
	// TLS is the TLS configuration of the agent's connections to an
	// https server (cabundle.Load); nil for Go's defaults.
	TLS             *tls.Config
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	// Cluster is the cluster to join (name or ARN).
	Cluster string
	// DataDir holds the agent's state file and kept task logs.
	DataDir string
	// Keyring seals the instance's credentials in the state file.
	Keyring *seal.Keyring
	// Attributes are custom attributes, and overrides of the built-in
	// ecs.* ones (ecs.availability-zone, ecs.instance-type).
	Attributes map[string]string
	// CPU (units, 1024 per core) and MemoryMiB declare the capacity; 0 means
	// the machine's (memory less ReservedMemoryMiB).
	CPU               int
	MemoryMiB         int
	ReservedMemoryMiB int
	// AllowPrivileged lets tasks run privileged containers.
	AllowPrivileged bool
	// Address is where this host's published ports are reachable from the
	// load balancer (the instance's privateIp); when empty, the local
	// address this host reaches the server from.
	Address string
	// CleanupWait is how long a stopped task's containers are kept.
	CleanupWait time.Duration
	Runtime     Runtime
	Logger      *slog.Logger
}

// Validate reports the first missing setting.
func (c *Config) Validate() error {
	switch {
	case c.Server == "":
		return errors.New("agent: the server URL must be set")
	case c.DataDir == "":
		return errors.New("agent: the data dir must be set")
	case c.Runtime == nil:
		return errors.New("agent: a runtime must be set")
	case c.Keyring == nil:
		return errors.New("agent: a keyring must be set")
	case c.AccessKeyID == "" || c.SecretAccessKey == "":
		return errors.New("agent: credentials must be set")
	}
	return nil
}

// Agent is one host's container agent.
type Agent struct {
	cfg      Config
	rt       Runtime
	client   *Client // signs with the instance's credentials once the link gave them
	boot     *Client // signs with the credentials the agent was started with
	state    *stateFile
	reporter *reporter
	log      *slog.Logger

	mu      sync.Mutex
	runners map[string]*taskRunner
	healthQ chan string // task ARNs whose health changed
	// instanceID and clusterARN are set once registered.
	instanceID, instanceARN, clusterARN string
	connected                           bool
	// runCtx is Run's context, which task runners live in (not the link's).
	runCtx context.Context
}

// New returns an agent; Run registers it and runs it.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Cluster == "" {
		cfg.Cluster = flotilla.DefaultClusterName
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.ReservedMemoryMiB == 0 {
		cfg.ReservedMemoryMiB = 256
	}
	if cfg.CleanupWait == 0 {
		cfg.CleanupWait = time.Hour
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "agent")
	st, err := openState(cfg.DataDir, cfg.Keyring)
	if err != nil {
		return nil, err
	}
	client := NewClient(cfg.Server, cfg.Region, cfg.AccessKeyID, cfg.SecretAccessKey, cfg.TLS)
	st.view(func(s *State) {
		if s.Credentials != nil {
			client.SetCredentials(s.Credentials.AccessKeyID, s.Credentials.SecretAccessKey)
		}
	})
	boot := NewClient(cfg.Server, cfg.Region, cfg.AccessKeyID, cfg.SecretAccessKey, cfg.TLS)
	a := &Agent{cfg: cfg, rt: cfg.Runtime, client: client, boot: boot, state: st, log: log,
		reporter: newReporter(st, client, log), runners: map[string]*taskRunner{}, healthQ: make(chan string, 1024)}
	a.reporter.onAuthFailure = func() {
		if client.AccessKeyID() != cfg.AccessKeyID {
			client.SetCredentials(cfg.AccessKeyID, cfg.SecretAccessKey)
		}
	}
	return a, nil
}

// InstanceARN is the agent's container instance, once registered.
func (a *Agent) InstanceARN() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.instanceARN
}

// Run registers the instance (again, after a restart), adopts the containers
// of the tasks it was running, and then keeps its link to the server and its
// tasks' containers converging until ctx ends. Stopping the agent leaves its
// containers running.
func (a *Agent) Run(ctx context.Context) error {
	a.runCtx = ctx
	if err := a.register(ctx); err != nil {
		return err
	}
	a.adopt(ctx)
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); a.watchEvents(ctx) }()
	go func() { defer wg.Done(); a.reporter.run(ctx) }()
	go func() { defer wg.Done(); a.runLink(ctx) }()
	go func() { defer wg.Done(); a.housekeep(ctx) }()
	<-ctx.Done()
	wg.Wait()
	a.mu.Lock()
	runners := make([]*taskRunner, 0, len(a.runners))
	for _, r := range a.runners {
		runners = append(runners, r)
	}
	a.mu.Unlock()
	for _, r := range runners {
		<-r.done
	}
	return nil
}

// register registers the host, retrying while the server is unreachable.
func (a *Agent) register(ctx context.Context) error {
	info, err := a.runtimeInfo(ctx)
	if err != nil {
		return err
	}
	in := a.registration(info)
	a.state.view(func(s *State) {
		if s.InstanceARN != "" {
			in.ContainerInstanceArn = ptr.To(s.InstanceARN)
		}
	})
	bo := backoff.New(200*time.Millisecond, 10*time.Second)
	for {
		var out wire.RegisterContainerInstanceResponse
		err := a.boot.Call(ctx, "RegisterContainerInstance", in, &out)
		var ae *APIError
		if errors.As(err, &ae) && in.ContainerInstanceArn != nil && ae.Code == "InvalidParameterException" {
			// The server no longer knows our instance: register anew.
			a.log.Warn("instance unknown to the server; registering a new one", "instance", *in.ContainerInstanceArn)
			in.ContainerInstanceArn = nil
			continue
		}
		if err == nil {
			arn := ptr.Deref(out.ContainerInstance.ContainerInstanceArn)
			var old string
			a.state.view(func(s *State) { old = s.InstanceARN })
			if old != arn {
				// A new instance: credentials of another one are useless.
				a.client.SetCredentials(a.cfg.AccessKeyID, a.cfg.SecretAccessKey)
				_ = a.state.update(func(s *State) { s.Credentials, s.Seq = nil, 0 })
			}
			a.mu.Lock()
			a.instanceARN = arn
			a.instanceID = arn[strings.LastIndexByte(arn, '/')+1:]
			a.clusterARN = clusterARNOf(arn)
			a.mu.Unlock()
			if err := a.state.update(func(s *State) { s.InstanceARN, s.ClusterARN = arn, a.clusterARN }); err != nil {
				return err
			}
			a.log.Info("registered", "instance", arn)
			return nil
		}
		if errors.As(err, &ae) && !ae.Retryable() {
			return fmt.Errorf("register container instance: %w", err)
		}
		a.log.Warn("register container instance; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(bo.Next()):
		}
	}
}

func (a *Agent) runtimeInfo(ctx context.Context) (RuntimeInfo, error) {
	bo := backoff.New(200*time.Millisecond, 10*time.Second)
	for {
		info, err := a.rt.Info(ctx)
		if err == nil {
			return info, nil
		}
		a.log.Warn("container runtime unreachable; retrying", "err", err)
		select {
		case <-ctx.Done():
			return info, ctx.Err()
		case <-time.After(bo.Next()):
		}
	}
}

// registration builds the RegisterContainerInstance request.
func (a *Agent) registration(info RuntimeInfo) *wire.RegisterContainerInstanceRequest {
	cpu := a.cfg.CPU
	if cpu == 0 {
		cpu = max(info.NCPU, runtime.NumCPU()) * 1024
	}
	mem := a.cfg.MemoryMiB
	if mem == 0 {
		mem = int(info.MemTotal>>20) - a.cfg.ReservedMemoryMiB
	}
	arch := info.Architecture
	switch arch {
	case "x86_64", "amd64", "":
		arch = "x86_64"
	case "aarch64", "arm64":
		arch = "arm64"
	}
	attrs := map[string]string{
		"ecs.availability-zone": a.cfg.Region + "a",
		"ecs.instance-type":     "flotilla.host",
		"ecs.os-type":           "linux",
		"ecs.cpu-architecture":  arch,
	}
	for k, v := range a.cfg.Attributes {
		attrs[k] = v
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	slices.Sort(names)
	in := &wire.RegisterContainerInstanceRequest{
		Cluster: ptr.To(a.cfg.Cluster),
		TotalResources: []wire.Resource{
			{Name: ptr.To("CPU"), Type: ptr.To("INTEGER"), IntegerValue: ptr.To(int32(cpu))},
			{Name: ptr.To("MEMORY"), Type: ptr.To("INTEGER"), IntegerValue: ptr.To(int32(mem))},
			{Name: ptr.To("PORTS"), Type: ptr.To("STRINGSET"), StringSetValue: flotilla.DefaultReservedPorts},
			{Name: ptr.To("PORTS_UDP"), Type: ptr.To("STRINGSET"), StringSetValue: []string{}},
		},
		VersionInfo: &wire.VersionInfo{AgentVersion: ptr.To(flotilla.AgentVersion), AgentHash: ptr.To(flotilla.Version), DockerVersion: ptr.To("DockerVersion: " + info.Version)},
	}
	if addr := a.address(); addr != "" {
		doc, _ := json.Marshal(map[string]string{"privateIp": addr})
		in.InstanceIdentityDocument = ptr.To(string(doc))
	}
	for _, n := range names {
		in.Attributes = append(in.Attributes, wire.Attribute{Name: ptr.To(n), Value: ptr.To(attrs[n])})
	}
	for _, c := range capabilities {
		in.Attributes = append(in.Attributes, wire.Attribute{Name: ptr.To(c)})
	}
	return in
}

// address returns Config.Address, or the local address of a route to the
// server (no packet is sent: a UDP "connection" only picks the route).
func (a *Agent) address() string {
	if a.cfg.Address != "" {
		return a.cfg.Address
	}
	u, err := url.Parse(a.cfg.Server)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	c, err := net.Dial("udp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return ""
	}
	defer c.Close()
	if ua, ok := c.LocalAddr().(*net.UDPAddr); ok {
		return ua.IP.String()
	}
	return ""
}

// capabilities are the ECS capability attributes this agent supports; task
// definitions list those they need in requiresAttributes.
var capabilities = []string{
	"ecs.capability.container-health-check",
	"ecs.capability.container-ordering",
	"com.amazonaws.ecs.capability.docker-remote-api.1.17",
	"com.amazonaws.ecs.capability.docker-remote-api.1.18",
	"com.amazonaws.ecs.capability.docker-remote-api.1.19",
	"com.amazonaws.ecs.capability.docker-remote-api.1.21",
	"com.amazonaws.ecs.capability.docker-remote-api.1.22",
	"com.amazonaws.ecs.capability.docker-remote-api.1.23",
	"com.amazonaws.ecs.capability.docker-remote-api.1.24",
	"com.amazonaws.ecs.capability.docker-remote-api.1.25",
	"com.amazonaws.ecs.capability.docker-remote-api.1.29",
	"com.amazonaws.ecs.capability.docker-remote-api.1.30",
	"com.amazonaws.ecs.capability.docker-remote-api.1.31",
	"com.amazonaws.ecs.capability.docker-remote-api.1.32",
	"com.amazonaws.ecs.capability.logging-driver.json-file",
	"com.amazonaws.ecs.capability.logging-driver.none",
}

func clusterARNOf(instanceARN string) string {
	// arn:aws:ecs:region:acct:container-instance/cluster/id
	i := strings.Index(instanceARN, ":container-instance/")
	if i < 0 {
		return ""
	}
	rest := instanceARN[i+len(":container-instance/"):]
	cluster, _, _ := strings.Cut(rest, "/")
	return instanceARN[:i] + ":cluster/" + cluster
}
