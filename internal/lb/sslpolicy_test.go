package lb

import (
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
)

// tls13Suites are the names ELBv2 gives TLS 1.3's cipher suites.
var tls13Suites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// notInGo are ciphers of ELBv2's policies that crypto/tls does not
// implement: listed by DescribeSSLPolicies, never negotiated.
var notInGo = []string{
	"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384", "AES256-SHA256",
}

// TestSSLPolicyTable checks the predefined policies: known protocol names,
// every cipher either one Go negotiates or a known one it does not (a
// misspelt name fails here), and at least one cipher Go negotiates for a
// policy that allows TLS 1.2 or older.
func TestSSLPolicyTable(t *testing.T) {
	policies := SSLPolicies()
	if len(policies) < 26 {
		t.Fatalf("%d policies, want at least ELBv2's 26", len(policies))
	}
	if _, ok := LookupSSLPolicy(DefaultSSLPolicy); !ok {
		t.Fatalf("no default policy %s", DefaultSSLPolicy)
	}
	seen := map[string]bool{}
	for _, p := range policies {
		if seen[p.Name] {
			t.Errorf("%s twice", p.Name)
		}
		seen[p.Name] = true
		if len(p.Protocols) == 0 || len(p.Ciphers) == 0 {
			t.Errorf("%s: protocols %v, ciphers %v", p.Name, p.Protocols, p.Ciphers)
		}
		for _, v := range p.Protocols {
			if _, ok := tlsVersions[v]; !ok {
				t.Errorf("%s: protocol %q", p.Name, v)
			}
		}
		for _, c := range p.Ciphers {
			if _, ok := goCipherSuites[c]; !ok && !slices.Contains(tls13Suites, c) && !slices.Contains(notInGo, c) {
				t.Errorf("%s: cipher %q is not one ELBv2 names", p.Name, c)
			}
		}
		cfg := p.serverConfig(nil)
		if cfg.MinVersion < tls.VersionTLS13 && len(cfg.CipherSuites) == 0 {
			t.Errorf("%s: no cipher Go negotiates below TLS 1.3", p.Name)
		}
		if slices.Contains(p.Protocols, "TLSv1.3") != slices.Contains(p.Ciphers, "TLS_AES_128_GCM_SHA256") {
			t.Errorf("%s: TLS 1.3 in protocols %v but not in ciphers %v, or the other way", p.Name, p.Protocols, p.Ciphers)
		}
	}
}

// TestSSLPolicy serves an HTTPS listener under different security
// policies, changed live, and checks the versions and ciphers a client
// gets to use.
func TestSSLPolicy(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	echo := newBackend(t, "echo")
	cfg := oneHTTPSListener(group("echo", echo), "cert/site")
	cfg.Certificates = []CertificateMaterial{material(t, "cert/site", "site.example")}
	setPolicy := func(name string) {
		t.Helper()
		cfg.Listeners[0].SSLPolicy = name
		mustUpdate(t, s, cfg)
	}
	setPolicy("")
	addr := s.Addr(listenerARN).String()
	// handshake connects with c and returns the version and cipher it got.
	handshake := func(c *tls.Config) (uint16, uint16, error) {
		c.InsecureSkipVerify = true //nolint:gosec // what is negotiated is under test, not the certificate
		conn, err := tls.Dial("tcp", addr, c)
		if err != nil {
			return 0, 0, err
		}
		defer conn.Close()
		st := conn.ConnectionState()
		return st.Version, st.CipherSuite, nil
	}
	// A cipher suite of ELBSecurityPolicy-2016-08 for the test's ECDSA
	// certificate that the restricted policy does not have.
	const cbc = tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
	const restricted = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
	if p, _ := LookupSSLPolicy(restricted); slices.Contains(p.Ciphers, "ECDHE-ECDSA-AES128-SHA") {
		t.Fatalf("%s has ECDHE-ECDSA-AES128-SHA: pick another cipher", restricted)
	}

	for _, tt := range []struct {
		policy  string
		client  *tls.Config
		version uint16 // 0: the handshake fails
	}{
		// The default: TLS 1.0 to 1.2, CBC ciphers too.
		{"", &tls.Config{}, tls.VersionTLS12},
		{"", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, tls.VersionTLS10},
		{"", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{cbc}}, tls.VersionTLS12},
		{"ELBSecurityPolicy-TLS-1-1-2017-01", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, 0},
		{"ELBSecurityPolicy-TLS-1-1-2017-01", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, tls.VersionTLS11},
		{"ELBSecurityPolicy-TLS-1-2-2017-01", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, 0},
		{"ELBSecurityPolicy-TLS-1-2-2017-01", &tls.Config{}, tls.VersionTLS12},
		{restricted, &tls.Config{}, tls.VersionTLS13},
		{restricted, &tls.Config{MaxVersion: tls.VersionTLS12}, tls.VersionTLS12},
		{restricted, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{cbc}}, 0},
		{"ELBSecurityPolicy-TLS13-1-3-2021-06", &tls.Config{MaxVersion: tls.VersionTLS12}, 0},
		{"ELBSecurityPolicy-TLS13-1-3-2021-06", &tls.Config{}, tls.VersionTLS13},
		// Back to the default, on the same socket.
		{DefaultSSLPolicy, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, tls.VersionTLS10},
	} {
		setPolicy(tt.policy)
		version, cipher, err := handshake(tt.client)
		switch {
		case tt.version == 0 && err == nil:
			t.Errorf("%q: client %x-%x %v: handshake succeeded with %s %s, want it refused", tt.policy,
				tt.client.MinVersion, tt.client.MaxVersion, tt.client.CipherSuites, tls.VersionName(version), tls.CipherSuiteName(cipher))
		case tt.version != 0 && err != nil:
			t.Errorf("%q: client %x-%x %v: %v", tt.policy, tt.client.MinVersion, tt.client.MaxVersion, tt.client.CipherSuites, err)
		case version != tt.version:
			t.Errorf("%q: client %x-%x: negotiated %s, want %s", tt.policy, tt.client.MinVersion, tt.client.MaxVersion,
				tls.VersionName(version), tls.VersionName(tt.version))
		}
	}

	cfg.Listeners[0].SSLPolicy = "ELBSecurityPolicy-Nope"
	if err := s.Update(cfg); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "ELBSecurityPolicy-Nope") {
		t.Errorf("Update with an unknown policy: %v, want ErrInvalidConfig naming it", err)
	}
}
