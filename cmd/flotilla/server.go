package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/agent"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/cabundle"
	"github.com/flotilla/flotilla/internal/datadir"
	"github.com/flotilla/flotilla/internal/seal"
	"github.com/flotilla/flotilla/internal/supervisor"
)

// Main wires the concrete pieces of a server together and runs them.
type Main struct {
	cfg    Config
	stdout io.Writer
	log    *slog.Logger
	// Agent, when set, runs an agent in the same process (flotilla up),
	// joining the cluster "default", created if missing.
	Agent *AgentConfig
}

// NewMain returns a Main that prints user-facing lines to stdout and logs to
// stderr.
func NewMain(cfg Config, stdout, stderr io.Writer) *Main {
	return &Main{cfg: cfg, stdout: stdout, log: newLogger(stderr, cfg.LogLevel)}
}

// Run serves until ctx ends, then shuts down gracefully. It opens the
// state and the listeners, then declares the server's parts as components
// of one supervisor (see docs/design.md, Processes): the API listener
// first, so that it stops last, the metrics listener, the regions' stacks,
// and the agent of flotilla up.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.cfg
	// The agent of flotilla up keeps its own directory owner-only,
	// its containers' volumes apart.
	if err := datadir.Secure(cfg.DataDir, "agent"); err != nil {
		return err
	}
	creds, serverKey, nodeCreds, err := m.credentials()
	if err != nil {
		return err
	}
	st, keyring, err := openState(ctx, cfg.DataDir, m.masterKeyFile(), m.log)
	if err != nil {
		return err
	}
	defer st.Close()
	l, err := m.listen()
	if err != nil {
		return err
	}
	defer l.Close()

	leadership := supervisor.AlwaysLeader{} // the only server leads
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	regs := newRegions(regionsConfig{Store: st, AccountID: cfg.AccountID, DefaultRegion: cfg.Region, Endpoint: l.endpoint,
		DataDir: cfg.DataDir, GracePeriod: cfg.InstanceGracePeriod, ReservedPorts: l.reserved(), Leadership: leadership,
		Logger: m.log, Registerer: reg})
	if err := regs.Open(ctx); err != nil {
		return err
	}
	srv, err := apiServer(ctx, api.Config{Logger: m.log, Registerer: reg, Gatherer: reg}, cfg.AccountID, creds, nodeCreds, regs)
	if err != nil {
		return err
	}

	sup := supervisor.New(supervisor.Config{Leadership: leadership, Logger: m.log})
	sup.Add(m.serveComponent("api", l.api, srv.Handler()))
	if l.metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		sup.Add(m.serveComponent("metrics", l.metrics, mux))
		m.log.Info("serving metrics", "component", "main", "addr", l.metrics.Addr().String())
	}
	sup.Add(supervisor.Component{Name: "regions", Run: regs.Run})
	if m.Agent != nil {
		sup.Add(m.agentComponent(l, creds, keyring))
	}
	m.log.Info("serving", "component", "main", "endpoint", l.endpoint, "data_dir", cfg.DataDir,
		"region", cfg.Region, "account_id", cfg.AccountID, "version", flotilla.Version)
	fmt.Fprintf(m.stdout, "Flotilla %s is serving the ECS API at %s\nPoint the aws CLI at it with:\n\n%s\n",
		flotilla.Version, l.endpoint, ExportLines(creds, serverKey, cfg.Region, l.endpoint, l.exported))
	return sup.Run(ctx)
}

// credentials returns the account's key pair (generated and kept in the
// data directory when not configured; serverKey says so, and that its
// secret may be shown) and the load balancer nodes'.
func (m *Main) credentials() (creds Credentials, serverKey bool, nodeCreds Credentials, err error) {
	creds = Credentials{AccessKeyID: m.cfg.AccessKeyID, SecretAccessKey: m.cfg.SecretAccessKey}
	// The secret is shown only when the server generated it.
	serverKey = creds.AccessKeyID == ""
	if serverKey {
		c, generated, err := LoadOrCreateCredentials(m.cfg.DataDir)
		if err != nil {
			return creds, serverKey, nodeCreds, err
		}
		creds = c
		if generated {
			m.log.Info("generated credentials", "component", "main", "path", filepath.Join(m.cfg.DataDir, credentialsFile))
		}
	}
	nodeCreds, generated, err := LoadOrCreateNodeCredentials(m.cfg.DataDir)
	if err != nil {
		return creds, serverKey, nodeCreds, err
	}
	if generated {
		m.log.Info("generated the load balancer nodes' credentials", "component", "main", "path", filepath.Join(m.cfg.DataDir, nodeCredentialsFile))
	}
	return creds, serverKey, nodeCreds, nil
}

func (m *Main) masterKeyFile() string {
	if m.cfg.MasterKeyFile != "" {
		return m.cfg.MasterKeyFile
	}
	return DefaultMasterKeyFile(m.cfg.DataDir)
}

// listeners are the server's open sockets and the endpoint clients reach
// the API at.
type listeners struct {
	api, metrics net.Listener // metrics is nil without --metrics-listen
	endpoint     string
	// clientBundle is the PEM file this process's own clients (the agent
	// of flotilla up) trust the server by; exported is the one printed for
	// the aws CLI and SDKs, only when the system's roots do not do.
	clientBundle, exported string
}

// reserved returns the ports Flotilla itself listens on, which no load
// balancer listener may take: port → what holds it.
func (l *listeners) reserved() map[int]string {
	ports := map[int]string{l.api.Addr().(*net.TCPAddr).Port: "API (--listen)"}
	if l.metrics != nil {
		ports[l.metrics.Addr().(*net.TCPAddr).Port] = "metrics (--metrics-listen)"
	}
	return ports
}

// Close closes the listeners; serving them closes them too.
func (l *listeners) Close() {
	l.api.Close()
	if l.metrics != nil {
		l.metrics.Close()
	}
}

// listen opens the API listener (with TLS when --tls-cert is set) and the
// metrics listener.
func (m *Main) listen() (*listeners, error) {
	cfg := m.cfg
	var tlsConf *tls.Config
	var cert tls.Certificate
	if cfg.TLSCert != "" {
		var err error
		if cert, err = tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, fmt.Errorf("--tls-cert and --tls-key: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	l := &listeners{api: ln, endpoint: "http://" + ln.Addr().String()}
	if tlsConf != nil {
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		if err := cert.Leaf.VerifyHostname(host); err != nil {
			ln.Close()
			// The endpoint the agents are sent to (DiscoverPollEndpoint),
			// and the one flotilla up's agent dials, is the listen address.
			return nil, fmt.Errorf("--tls-cert does not name the --listen address %s, which clients and agents are given as the endpoint: %w", host, err)
		}
		if l.clientBundle, err = filepath.Abs(cfg.TLSCert); err != nil {
			ln.Close()
			return nil, err
		}
		if !trustedBySystem(cert) {
			l.exported = l.clientBundle
		}
		l.endpoint = "https://" + ln.Addr().String()
		l.api = tls.NewListener(ln, tlsConf)
	}
	if cfg.MetricsListen != "" {
		if l.metrics, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			ln.Close()
			return nil, fmt.Errorf("--metrics-listen: %w", err)
		}
	}
	return l, nil
}

// serveComponent serves h on ln until its context ends, then shuts the
// HTTP server down gracefully: requests in flight get --shutdown-timeout
// to finish.
func (m *Main) serveComponent(name string, ln net.Listener, h http.Handler) supervisor.Component {
	return supervisor.Component{Name: name, Run: func(ctx context.Context) error {
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
			// Failed TLS handshakes (scanners, clients without the
			// certificate) are logged at debug level, not on stderr raw.
			ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)}
		served := make(chan error, 1)
		go func() { served <- hs.Serve(ln) }()
		select {
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
		}
		m.log.Info("shutting down", "component", "main", "listener", name)
		sctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
		defer cancel()
		err := hs.Shutdown(sctx)
		<-served
		if errors.Is(err, context.DeadlineExceeded) {
			// The requests still in flight are cut off.
			hs.Close()
			return nil
		}
		if err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		return nil
	}}
}

// agentComponent is the agent of flotilla up, joining the cluster
// "default" (created if missing) over the server's own endpoint.
func (m *Main) agentComponent(l *listeners, creds Credentials, keyring *seal.Keyring) supervisor.Component {
	var a *agent.Agent
	return supervisor.Component{Name: "agent",
		Start: func(ctx context.Context) error {
			ac := *m.Agent
			ac.Server, ac.Region, ac.Cluster, ac.CABundle = l.endpoint, m.cfg.Region, flotilla.DefaultClusterName, l.clientBundle
			ac.AccessKeyID, ac.SecretAccessKey = creds.AccessKeyID, creds.SecretAccessKey
			ac.DataDir = filepath.Join(m.cfg.DataDir, "agent")
			clientTLS, err := cabundle.ForServer(l.endpoint, l.clientBundle)
			if err != nil {
				return err
			}
			client := agent.NewClient(l.endpoint, m.cfg.Region, creds.AccessKeyID, creds.SecretAccessKey, clientTLS)
			if err := client.Call(ctx, "CreateCluster", map[string]string{"clusterName": ac.Cluster}, nil); err != nil {
				return fmt.Errorf("create the default cluster: %w", err)
			}
			a, err = newAgent(ac, keyring, m.log)
			return err
		},
		Run: func(ctx context.Context) error { return a.Run(ctx) },
	}
}

// apiServer returns the API server of the services, with the identities and
// permissions of every route: the account's key pair may call everything;
// the keys the ECS service issued to container instances (their agents)
// only the agents' operations and the link, on their own instance; the load
// balancer nodes' key pair only the node routes. Every other key is unknown.
func apiServer(ctx context.Context, cfg api.Config, accountID string, creds, nodeCreds Credentials, regs *regions) (*api.Server, error) {
	// The account's key pair, the load balancer nodes', then the keys
	// issued to container instances, in every region.
	cfg.Credentials = sigv4.Chain{sigv4.StaticCredentials{
		creds.AccessKeyID:     creds.SecretAccessKey,
		nodeCreds.AccessKeyID: nodeCreds.SecretAccessKey,
	}, regs}
	cfg.Principals = api.PrincipalChain{api.StaticPrincipals{
		creds.AccessKeyID:     {Kind: api.Account, ARN: flotilla.Account{ID: accountID, Region: regs.cfg.DefaultRegion}.RootPrincipal()},
		nodeCreds.AccessKeyID: {Kind: api.LBNode},
	}, regs}
	srv := api.NewServer(cfg)
	if err := regs.Register(ctx, srv); err != nil {
		return nil, err
	}
	return srv, nil
}

// trustedBySystem reports whether clients with the system's roots trust
// the certificate (with its chain) as it is.
func trustedBySystem(c tls.Certificate) bool {
	inter := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(ic)
		}
	}
	_, err := c.Leaf.Verify(x509.VerifyOptions{Intermediates: inter})
	return err == nil
}
