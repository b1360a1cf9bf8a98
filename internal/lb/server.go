package lb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrClosed is returned by an Update after Close, or after Run's context
// ended.
var ErrClosed = errors.New("lb: server closed")

// Options configure a Server. The zero value of every field has a default.
type Options struct {
	// BindAddress is the IP address listeners bind unless their load
	// balancer names its own; 127.0.0.1 when empty.
	BindAddress string
	// Logger receives the logs, with component=lb; slog.Default() when nil.
	Logger *slog.Logger
	// Registerer registers the metrics; a new registry when nil.
	Registerer prometheus.Registerer
	// Certificates resolves the certificate ARNs of HTTPS listeners that
	// are not in the configuration's Certificates; such listeners fail to
	// open (or keep their previous certificates) when it is nil.
	Certificates func(arn string) (*tls.Certificate, error)
	// MinHealthCheckInterval is the shortest health check interval a
	// configuration may ask for: ELBv2's 5s when 0. Tests lower it.
	MinHealthCheckInterval time.Duration
	// MaxIdleConnsPerTarget is how many idle keep-alive connections to each
	// target are kept for reuse; 1024 when 0.
	MaxIdleConnsPerTarget int
	// TargetIdleTimeout closes a connection to a target idle for that long;
	// 60s when 0.
	TargetIdleTimeout time.Duration
	// ConnectTimeout bounds connecting to a target (ELBv2's 10s when 0);
	// past it the client gets a 504.
	ConnectTimeout time.Duration
	// ClientIdleTimeout closes a client connection idle between requests
	// for that long: ELBv2's idle_timeout.timeout_seconds, 60s when 0.
	ClientIdleTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's head (and the TLS
	// handshake before it); when 0, the load balancer's idle timeout
	// (IdleTimeoutSeconds, else ClientIdleTimeout) does.
	ReadHeaderTimeout time.Duration
	// MaxConns bounds the client connections of all listeners together:
	// at the bound the listeners stop accepting until one closes, and new
	// clients wait in the kernel's backlog, so that they cannot take the
	// file descriptors the rest of the process needs. When 0, half of what
	// the open file limit (RLIMIT_NOFILE) leaves after a quarter of it (at
	// least 256) kept for the rest of the process, each client connection
	// possibly holding one to a target; no bound when negative. It must be
	// 0 when ConnLimit is set.
	MaxConns int
	// ConnLimit, when set, is the bound on client connections, shared with
	// the other Servers given it, so that several Servers in one process
	// (one a region) stay within the process's file descriptors together;
	// when nil, the Server has a bound of its own, of MaxConns.
	ConnLimit *ConnLimit
	// ShutdownTimeout bounds how long Run waits, once its context ends, for
	// requests in flight; 30s when 0.
	ShutdownTimeout time.Duration
	// EventLoops is how many event loops serve the plain HTTP listeners'
	// connections on Linux (loop_linux.go): one per Go processor
	// (GOMAXPROCS, as it was before any loops) when 0; none when negative,
	// and then each connection has a goroutine of its own, as on other
	// platforms. GOMAXPROCS is raised to one more than the loops if it is
	// not already, so that the rest of the program has a processor while
	// every loop waits in the kernel.
	EventLoops int
	// OnHealthChange, when set, is called with a target group's ARN after
	// what Health reports of it may have changed: a target came, went,
	// started draining or changed state. It is called with the group's lock
	// held, so it must return quickly and must not call the Server.
	OnHealthChange func(targetGroupARN string)
}

// Validate reports whether o can make a Server.
func (o Options) Validate() error {
	if o.BindAddress != "" {
		if _, err := netip.ParseAddr(o.BindAddress); err != nil {
			return fmt.Errorf("lb: options: bind address %q is not an IP address", o.BindAddress)
		}
	}
	for name, d := range map[string]time.Duration{
		"min health check interval": o.MinHealthCheckInterval, "target idle timeout": o.TargetIdleTimeout,
		"connect timeout": o.ConnectTimeout, "client idle timeout": o.ClientIdleTimeout,
		"read header timeout": o.ReadHeaderTimeout, "shutdown timeout": o.ShutdownTimeout,
	} {
		if d < 0 {
			return fmt.Errorf("lb: options: %s %v is negative", name, d)
		}
	}
	if o.MaxIdleConnsPerTarget < 0 {
		return fmt.Errorf("lb: options: max idle connections per target %d is negative", o.MaxIdleConnsPerTarget)
	}
	if o.ConnLimit != nil && o.MaxConns != 0 {
		return fmt.Errorf("lb: options: max connections %d and a connection limit are both set", o.MaxConns)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.BindAddress == "" {
		o.BindAddress = "127.0.0.1"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	set := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	set(&o.MinHealthCheckInterval, elbv2Limits.minInterval)
	set(&o.TargetIdleTimeout, 60*time.Second)
	set(&o.ConnectTimeout, 10*time.Second)
	set(&o.ClientIdleTimeout, 60*time.Second)
	set(&o.ShutdownTimeout, 30*time.Second)
	if o.MaxIdleConnsPerTarget == 0 {
		o.MaxIdleConnsPerTarget = 1024
	}
	if o.ConnLimit == nil {
		o.ConnLimit = NewConnLimit(o.MaxConns)
	}
	return o
}

// Server is the load balancers' data plane: it serves every listener of the
// Config it was last given. See the package documentation for what an
// Update does.
type Server struct {
	deps   *deps
	log    *slog.Logger
	limits limits

	mu       sync.Mutex // serializes Update, Close and shutdown
	closed   bool
	sockets  map[string]*socket // by listener ARN
	failed   map[string]string  // listeners that could not open, with why, by ARN
	retiring map[*socket]bool   // closed by an Update, finishing their requests
	tgs      map[string]*targetGroup
	gone     map[string]*targetGroup // removed, with targets still draining
	parsed   certCache
	wg       sync.WaitGroup
	done     chan struct{} // closed by Close
}

// ConnLimit returns the bound on the Server's client connections, which
// it shares with the Servers given the same Options.ConnLimit.
func (s *Server) ConnLimit() *ConnLimit { return s.deps.limit }

// New returns a Server with no listeners. It panics if opts.Validate fails.
func New(opts Options) *Server {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	opts = opts.withDefaults()
	log := opts.Logger.With("component", "lb")
	if n := opts.ConnLimit.Max(); n > 0 {
		log.Info("client connections bounded", "max_conns", n, "open_file_limit", openFileLimit())
	}
	s := &Server{
		log:      log,
		limits:   limits{minInterval: opts.MinHealthCheckInterval},
		sockets:  map[string]*socket{},
		retiring: map[*socket]bool{},
		tgs:      map[string]*targetGroup{},
		gone:     map[string]*targetGroup{},
		done:     make(chan struct{}),
	}
	s.deps = &deps{
		opts:    opts,
		log:     log,
		metrics: newMetrics(opts.Registerer),
		prober:  newProber(opts.ConnectTimeout),
		buffers: newBufferPool(),
		wg:      &s.wg,
		limit:   opts.ConnLimit,
	}
	if n := opts.EventLoops; loopsSupported && n >= 0 {
		if n == 0 {
			n = defaultLoops()
		}
		loops, err := newLoops(n, log, &s.wg)
		if err != nil {
			log.Warn("no event loops: every connection gets a goroutine", "err", err)
		}
		s.deps.loops = loops
	}
	return s
}

// Update makes cfg the configuration being served. An invalid cfg (see
// Config.Validate, with the Server's own minimum health check interval) is
// refused whole with an error wrapping ErrInvalidConfig, and the previous
// one stays. Otherwise everything is applied except the listeners whose
// socket cannot be opened or whose certificates cannot be had: those are
// reported in the error and tried again by the next Update. Requests in
// flight are not disturbed, except those to targets that drain past their
// deregistration delay.
func (s *Server) Update(cfg Config) error {
	if err := cfg.validate(s.limits); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	// Target groups first, so that the new tables find them ready.
	s.applyTargetGroups(cfg)
	if errs := s.applyListeners(cfg); len(errs) > 0 {
		return fmt.Errorf("lb: update: %w", errors.Join(errs...))
	}
	return nil
}

// applyTargetGroups brings the target groups in line with cfg. Called with
// mu held.
func (s *Server) applyTargetGroups(cfg Config) {
	inUse := map[string]bool{}
	for _, l := range cfg.Listeners {
		markInUse(inUse, l.DefaultActions)
	}
	for _, r := range cfg.Rules {
		markInUse(inUse, r.Actions)
	}
	tgs := make(map[string]*targetGroup, len(cfg.TargetGroups))
	for _, c := range cfg.TargetGroups {
		spec, _ := c.spec(s.limits)      // validated
		targets, _ := c.resolveTargets() // validated
		tg := s.tgs[c.ARN]
		if tg == nil {
			// Back while its targets still drain, it carries on with them.
			tg = s.gone[c.ARN]
			delete(s.gone, c.ARN)
		}
		if tg == nil {
			tg = newTargetGroup(c.ARN, s.deps)
		}
		tg.apply(spec, targets, inUse[c.ARN])
		tgs[c.ARN] = tg
	}
	for arn, tg := range s.tgs {
		if tgs[arn] == nil {
			tg.remove()
			s.gone[arn] = tg
		}
	}
	for arn, tg := range s.gone {
		if tg.empty() {
			delete(s.gone, arn)
		}
	}
	s.tgs = tgs
}

// applyListeners brings the listeners in line with cfg, and returns the
// listeners it could not open. Called with mu held, after
// applyTargetGroups.
func (s *Server) applyListeners(cfg Config) []error {
	lbs := map[string]LoadBalancer{}
	for _, lb := range cfg.LoadBalancers {
		lbs[lb.ARN] = lb
	}
	rules := map[string][]Rule{}
	for _, r := range cfg.Rules {
		rules[r.ListenerARN] = append(rules[r.ListenerARN], r)
	}
	materials := make(map[string]CertificateMaterial, len(cfg.Certificates))
	for _, m := range cfg.Certificates {
		materials[m.ARN] = m
	}
	s.parsed.keep(materials)
	var errs []error
	failed := map[string]string{}
	sockets := make(map[string]*socket, len(cfg.Listeners))
	type opening struct {
		l    Listener
		bind string
		tbl  *table
	}
	var toOpen []opening
	for _, l := range cfg.Listeners {
		tbl := compileTable(l, rules[l.ARN], s.tgs, s.deps.metrics)
		certs, err := s.certificates(l, materials)
		if err != nil {
			errs = append(errs, err)
			if s.sockets[l.ARN] == nil {
				failed[l.ARN] = strings.TrimPrefix(err.Error(), "listener "+l.ARN+": ")
			}
			if k := s.sockets[l.ARN]; k != nil {
				sockets[l.ARN] = k // keeps its previous table
			}
			continue
		}
		if certs != nil {
			tbl.certs = certs
			tbl.tls = listenerPolicy(l).serverConfig(certs)
		}
		tbl.idleTimeout = s.deps.opts.ClientIdleTimeout
		if secs := lbs[l.LoadBalancerARN].IdleTimeoutSeconds; secs > 0 {
			tbl.idleTimeout = time.Duration(secs) * time.Second
		}
		bindAddr := lbs[l.LoadBalancerARN].BindAddress
		if bindAddr == "" {
			bindAddr = s.deps.opts.BindAddress
		}
		bind := net.JoinHostPort(bindAddr, strconv.Itoa(l.Port))
		if k := s.sockets[l.ARN]; k != nil && k.bind == bind && k.protocol == l.Protocol {
			k.table.Store(tbl)
			sockets[l.ARN] = k
			continue
		}
		toOpen = append(toOpen, opening{l, bind, tbl})
	}
	// Close before opening, so that a listener can take a port another
	// one leaves.
	for arn, k := range s.sockets {
		if sockets[arn] != k {
			s.retire(k)
		}
	}
	for _, o := range toOpen {
		k, err := listen(o.l, o.bind, o.tbl, s.deps)
		if err != nil {
			errs = append(errs, err)
			failed[o.l.ARN] = strings.TrimPrefix(err.Error(), "listener "+o.l.ARN+": ")
			continue
		}
		k.log.Info("listener open", "protocol", o.l.Protocol)
		sockets[o.l.ARN] = k
		s.wg.Go(k.serve)
	}
	s.sockets, s.failed = sockets, failed
	return errs
}

// ListenerErrors returns the listeners of the configuration being served
// that have no socket open, with why (the port is taken, or the
// certificates cannot be had), by listener ARN: nil when every one is
// open. Each Update tries them again.
func (s *Server) ListenerErrors() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failed) == 0 {
		return nil
	}
	return maps.Clone(s.failed)
}

func markInUse(inUse map[string]bool, actions []Action) {
	for _, a := range actions {
		if a.Type != ActionForward {
			continue
		}
		groups, _, _ := forwardGroups(a)
		for _, g := range groups {
			inUse[g.TargetGroupARN] = true
		}
	}
}

// certificates resolves the certificates of an HTTPS listener: from the
// configuration's material, else with Options.Certificates. A certificate
// that cannot be had fails only its listener, which keeps its previous
// table. Called with mu held.
func (s *Server) certificates(l Listener, materials map[string]CertificateMaterial) ([]*tls.Certificate, error) {
	if l.Protocol != ProtocolHTTPS {
		return nil, nil
	}
	certs := make([]*tls.Certificate, 0, len(l.Certificates))
	for _, c := range l.Certificates {
		var cert *tls.Certificate
		var err error
		if m, ok := materials[c.ARN]; ok {
			cert, err = s.parsed.get(m)
		} else if s.deps.opts.Certificates != nil {
			cert, err = s.deps.opts.Certificates(c.ARN)
		} else {
			err = errors.New("not in the configuration's certificates")
		}
		if err != nil {
			return nil, fmt.Errorf("listener %s: certificate %s: %w", l.ARN, c.ARN, err)
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

// certCache keeps the certificates parsed from configurations' material,
// so that an update parses only what changed.
type certCache map[string]parsedCert

type parsedCert struct {
	m    CertificateMaterial
	cert *tls.Certificate
}

// get returns m parsed.
func (c *certCache) get(m CertificateMaterial) (*tls.Certificate, error) {
	if p, ok := (*c)[m.ARN]; ok && p.m == m {
		return p.cert, nil
	}
	cert, err := tls.X509KeyPair([]byte(m.CertificatePEM), []byte(m.PrivateKeyPEM))
	if err != nil {
		return nil, err
	}
	if *c == nil {
		*c = certCache{}
	}
	(*c)[m.ARN] = parsedCert{m, &cert}
	return &cert, nil
}

// keep forgets the certificates not in materials.
func (c certCache) keep(materials map[string]CertificateMaterial) {
	for arn := range c {
		if _, ok := materials[arn]; !ok {
			delete(c, arn)
		}
	}
}

// retire stops a socket accepting and lets its connections finish their
// requests. Called with mu held.
func (s *Server) retire(k *socket) {
	k.stopAccepting()
	k.log.Info("listener closed")
	s.retiring[k] = true
	s.wg.Go(func() {
		_ = k.shutdown(context.Background()) // Close cuts it short
		s.mu.Lock()
		delete(s.retiring, k)
		s.mu.Unlock()
	})
}

// Addr returns the address a listener is bound to, or nil when it has no
// open socket.
func (s *Server) Addr(listenerARN string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.sockets[listenerARN]; k != nil {
		return k.ln.Addr()
	}
	return nil
}

// Health returns the health of every target registered with a target
// group, draining ones included, sorted by ID and port; nil when the group
// is not in the configuration.
func (s *Server) Health(targetGroupARN string) []TargetHealth {
	s.mu.Lock()
	tg := s.tgs[targetGroupARN]
	s.mu.Unlock()
	if tg == nil {
		return nil
	}
	return tg.report()
}

// Run serves until ctx ends, then shuts down gracefully: the listeners stop
// accepting, requests in flight get Options.ShutdownTimeout to finish, and
// everything is closed. It returns early, with nil, when Close is called. The
// listeners serve from their Update on, Run or not.
func (s *Server) Run(ctx context.Context) error {
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	all := make([]*socket, 0, len(s.sockets)+len(s.retiring))
	for _, k := range s.sockets {
		all = append(all, k)
	}
	for k := range s.retiring {
		all = append(all, k)
	}
	s.mu.Unlock()

	s.log.Info("shutting down", "timeout", s.deps.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.deps.opts.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(all))
	for i, k := range all {
		k.stopAccepting()
		wg.Go(func() { errs[i] = k.shutdown(sctx) })
	}
	wg.Wait()
	s.Close()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lb: shutdown: %w", err)
	}
	return nil
}

// Close stops everything at once: sockets, connections, requests in
// flight, health checks. It waits for the Server's goroutines to end.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		s.wg.Wait()
		return
	default:
	}
	close(s.done)
	s.closed = true
	for _, k := range s.sockets {
		k.close()
	}
	for k := range s.retiring {
		k.close()
	}
	for _, tg := range s.tgs {
		tg.close()
	}
	for _, tg := range s.gone {
		tg.close()
	}
	s.mu.Unlock()
	for _, lp := range s.deps.loops {
		lp.stop()
	}
	s.wg.Wait()
}
