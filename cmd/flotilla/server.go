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
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/agent"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/acm"
	"github.com/flotilla/flotilla/internal/api/ecs"
	"github.com/flotilla/flotilla/internal/api/elbv2"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	"github.com/flotilla/flotilla/internal/cabundle"
	"github.com/flotilla/flotilla/internal/controller/service"
	"github.com/flotilla/flotilla/internal/lbnode"
	"github.com/flotilla/flotilla/internal/link"
	"github.com/flotilla/flotilla/internal/store/bolt"
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
	account := flotilla.Account{Region: cfg.Region, ID: cfg.AccountID}
	lbs, err := newLoadBalancing(st, cfg.DataDir, m.log, reg)
	if err != nil {
		return err
	}
	elbSvc := elbv2.New(elbv2.Config{Store: st, Region: cfg.Region, AccountID: cfg.AccountID, Health: lbs.Health,
		ListenerErrors: lbs.ListenerErrors,
		ReservedPorts:  map[int]string{ln.Addr().(*net.TCPAddr).Port: "API (--listen)"}})
	acmSvc := acm.New(acm.Config{Store: st, Region: cfg.Region, AccountID: cfg.AccountID, InUse: elbSvc.CertificateUsers})
	ecsSvc := ecs.New(ecs.Config{Store: st, Account: account, Logger: m.log, Endpoint: endpoint,
		TargetGroupLoadBalancers: elbSvc.TargetGroupLoadBalancers})
	srv := api.NewServer(api.Config{
		// The account's key pair, then the keys issued to container instances.
		Credentials: sigv4.Chain{sigv4.StaticCredentials{creds.AccessKeyID: creds.SecretAccessKey}, ecsSvc},
		Region:      cfg.Region,
		Logger:      m.log,
		Registerer:  reg,
		Gatherer:    reg,
	})
	srv.HandleJSON(ecsSvc.JSONService())
	srv.HandleAuthenticated(link.Path, ecsSvc.LinkHandler())
	srv.HandleQuery(elbSvc.QueryService())
	srv.HandleJSON(acmSvc.JSONService())
	srv.HandleAuthenticated(lbnode.Path+"/", lbnode.Handler(lbs.source, m.log))

	// Canceled before the wait, on every return: the goroutines end.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 3)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ecsSvc.Run(ctx); err != nil {
			errs <- fmt.Errorf("ecs housekeeping: %w", err)
		}
	}()

	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := lbs.Run(ctx); err != nil && ctx.Err() == nil {
			errs <- fmt.Errorf("load balancer: %w", err)
		}
	}()
	svcCtl := service.New(service.Config{Store: st, Tasks: ecsSvc, LoadBalancers: elbSvc, InstanceGracePeriod: cfg.InstanceGracePeriod, Logger: m.log})
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := svcCtl.Run(ctx); err != nil {
			errs <- fmt.Errorf("service controller: %w", err)
		}
	}()

	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		// Failed TLS handshakes (scanners, clients without the
		// certificate) are logged at debug level, not on stderr raw.
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)}
	go func() { errs <- fmt.Errorf("serve: %w", hs.Serve(ln)) }()

	m.log.Info("serving", "component", "main", "endpoint", endpoint, "data_dir", cfg.DataDir,
		"region", cfg.Region, "account_id", cfg.AccountID, "version", flotilla.Version)
	fmt.Fprintf(m.stdout, "Flotilla %s is serving the ECS API at %s\nPoint the aws CLI at it with:\n\n%s\n",
		flotilla.Version, endpoint, ExportLines(creds, cfg.Region, endpoint, exported))

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
		a, err := newAgent(ac, m.log)
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
