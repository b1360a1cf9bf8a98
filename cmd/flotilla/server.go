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
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/agent"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/cabundle"
	"github.com/flotilla/flotilla/internal/datadir"
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

// Run serves until ctx ends, then shuts down gracefully.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.cfg
	// The agent of flotilla up keeps its own directory owner-only,
	// its containers' volumes apart.
	if err := datadir.Secure(cfg.DataDir, "agent"); err != nil {
		return err
	}
	creds := Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey}
	// The secret is shown only when the server generated it.
	serverKey := creds.AccessKeyID == ""
	if serverKey {
		c, generated, err := LoadOrCreateCredentials(cfg.DataDir)
		if err != nil {
			return err
		}
		creds = c
		if generated {
			m.log.Info("generated credentials", "component", "main", "path", filepath.Join(cfg.DataDir, credentialsFile))
		}
	}
	nodeCreds, generated, err := LoadOrCreateNodeCredentials(cfg.DataDir)
	if err != nil {
		return err
	}
	if generated {
		m.log.Info("generated the load balancer nodes' credentials", "component", "main", "path", filepath.Join(cfg.DataDir, nodeCredentialsFile))
	}

	keyFile := cfg.MasterKeyFile
	if keyFile == "" {
		keyFile = DefaultMasterKeyFile(cfg.DataDir)
	}
	st, keyring, err := openState(ctx, cfg.DataDir, keyFile, m.log)
	if err != nil {
		return err
	}
	defer st.Close()

	var tlsConf *tls.Config
	var cert tls.Certificate
	if cfg.TLSCert != "" {
		if cert, err = tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
			return fmt.Errorf("--tls-cert and --tls-key: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	endpoint := "http://" + ln.Addr().String()
	// clientBundle is the PEM file this process's own clients (the agent
	// of flotilla up) trust the server by; exported is the one printed for
	// the aws CLI and SDKs, only when the system's roots do not do.
	var clientBundle, exported string
	if tlsConf != nil {
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		if err := cert.Leaf.VerifyHostname(host); err != nil {
			// The endpoint the agents are sent to (DiscoverPollEndpoint),
			// and the one flotilla up's agent dials, is the listen address.
			return fmt.Errorf("--tls-cert does not name the --listen address %s, which clients and agents are given as the endpoint: %w", host, err)
		}
		if clientBundle, err = filepath.Abs(cfg.TLSCert); err != nil {
			return err
		}
		if !trustedBySystem(cert) {
			exported = clientBundle
		}
		endpoint = "https://" + ln.Addr().String()
		ln = tls.NewListener(ln, tlsConf)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reserved := map[int]string{ln.Addr().(*net.TCPAddr).Port: "API (--listen)"}
	if _, port, err := net.SplitHostPort(cfg.MetricsListen); err == nil {
		if p, err := strconv.Atoi(port); err == nil && p != 0 {
			reserved[p] = "metrics (--metrics-listen)"
		}
	}
	regs := newRegions(regionsConfig{Store: st, AccountID: cfg.AccountID, DefaultRegion: cfg.Region, Endpoint: endpoint,
		DataDir: cfg.DataDir, GracePeriod: cfg.InstanceGracePeriod, ReservedPorts: reserved, Logger: m.log, Registerer: reg})
	if err := regs.Open(ctx); err != nil {
		return err
	}
	srv, err := apiServer(ctx, api.Config{Logger: m.log, Registerer: reg, Gatherer: reg}, cfg.AccountID, creds, nodeCreds, regs)
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if cfg.MetricsListen != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-listen: %w", err)
		}
	}

	// Canceled before the wait, on every return: the goroutines end.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 4)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := regs.Run(ctx); err != nil {
			errs <- err
		}
	}()

	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		// Failed TLS handshakes (scanners, clients without the
		// certificate) are logged at debug level, not on stderr raw.
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)}
	go func() { errs <- fmt.Errorf("serve: %w", hs.Serve(ln)) }()
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)}
		defer ms.Close()
		go func() { errs <- fmt.Errorf("serve metrics: %w", ms.Serve(metricsLn)) }()
		m.log.Info("serving metrics", "component", "main", "addr", metricsLn.Addr().String())
	}

	m.log.Info("serving", "component", "main", "endpoint", endpoint, "data_dir", cfg.DataDir,
		"region", cfg.Region, "account_id", cfg.AccountID, "version", flotilla.Version)
	fmt.Fprintf(m.stdout, "Flotilla %s is serving the ECS API at %s\nPoint the aws CLI at it with:\n\n%s\n",
		flotilla.Version, endpoint, ExportLines(creds, serverKey, cfg.Region, endpoint, exported))

	if m.Agent != nil {
		ac := *m.Agent
		ac.Server, ac.Region, ac.Cluster, ac.CABundle = endpoint, cfg.Region, flotilla.DefaultClusterName, clientBundle
		ac.AccessKeyID, ac.SecretAccessKey = creds.AccessKeyID, creds.SecretAccessKey
		ac.DataDir = filepath.Join(cfg.DataDir, "agent")
		clientTLS, err := cabundle.ForServer(endpoint, clientBundle)
		if err != nil {
			return err
		}
		client := agent.NewClient(endpoint, cfg.Region, creds.AccessKeyID, creds.SecretAccessKey, clientTLS)
		if err := client.Call(ctx, "CreateCluster", map[string]string{"clusterName": ac.Cluster}, nil); err != nil {
			return fmt.Errorf("create the default cluster: %w", err)
		}
		a, err := newAgent(ac, keyring, m.log)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Run(ctx); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("agent: %w", err)
			}
		}()
	}

	var runErr error
	select {
	case runErr = <-errs:
		m.log.Error("stopping", "component", "main", "err", runErr)
	case <-ctx.Done():
	}
	cancel()
	m.log.Info("shutting down", "component", "main")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) && runErr == nil {
		runErr = fmt.Errorf("shutdown: %w", err)
	}
	return runErr
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
