package lb

import (
	"crypto/tls"
	"errors"
	"slices"
)

// SSLPolicy is one of ELBv2's predefined security policies for HTTPS
// listeners: the TLS protocol versions and the ciphers a listener
// negotiates with clients.
type SSLPolicy struct {
	Name string
	// Protocols are ELBv2's names of the protocol versions: TLSv1, TLSv1.1,
	// TLSv1.2, TLSv1.3.
	Protocols []string
	// Ciphers are OpenSSL's names of the cipher suites (TLS_AES_128_GCM_SHA256
	// and the like for TLS 1.3), in ELBv2's order of preference.
	Ciphers []string
}

// DefaultSSLPolicy is the policy of an HTTPS listener that names none, as
// in ELBv2 when a listener is made other than in the console.
const DefaultSSLPolicy = "ELBSecurityPolicy-2016-08"

// sslPolicyIndex finds sslPolicyTable's policies by name.
var sslPolicyIndex = func() map[string]*SSLPolicy {
	m := make(map[string]*SSLPolicy, len(sslPolicyTable))
	for i := range sslPolicyTable {
		m[sslPolicyTable[i].Name] = &sslPolicyTable[i]
	}
	return m
}()

// SSLPolicies returns ELBv2's predefined security policies, in the order
// DescribeSSLPolicies lists them.
func SSLPolicies() []SSLPolicy { return slices.Clone(sslPolicyTable) }

// LookupSSLPolicy returns the predefined policy name.
func LookupSSLPolicy(name string) (SSLPolicy, bool) {
	p, ok := sslPolicyIndex[name]
	if !ok {
		return SSLPolicy{}, false
	}
	return *p, true
}

// tlsVersions are ELBv2's names of the protocol versions.
var tlsVersions = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// goCipherSuites are the cipher suites of TLS 1.0 to 1.2 that Go's
// crypto/tls implements, by OpenSSL's names. A policy's other ciphers
// (CBC with SHA-384, AES256-SHA256) are listed by DescribeSSLPolicies but
// not negotiated. TLS 1.3's suites are not configurable in Go: a listener
// that allows TLS 1.3 offers all three.
var goCipherSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-DES-CBC3-SHA":        tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
}

// serverConfig is the TLS configuration of a listener with policy p
// serving certs, the default first, the others chosen by SNI.
func (p *SSLPolicy) serverConfig(certs []*tls.Certificate) *tls.Config {
	c := &tls.Config{
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return chooseCertificate(certs, hello)
		},
	}
	for _, name := range p.Protocols {
		v := tlsVersions[name]
		if c.MinVersion == 0 || v < c.MinVersion {
			c.MinVersion = v
		}
		c.MaxVersion = max(c.MaxVersion, v)
	}
	for _, name := range p.Ciphers {
		if id, ok := goCipherSuites[name]; ok {
			c.CipherSuites = append(c.CipherSuites, id)
		}
	}
	return c
}

// chooseCertificate returns the first of certs the client supports (by
// SNI, and by its signature algorithms), else the default.
func chooseCertificate(certs []*tls.Certificate, hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	for _, c := range certs {
		if hello.SupportsCertificate(c) == nil {
			return c, nil
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("listener has no certificate")
	}
	return certs[0], nil
}

// listenerPolicy returns the security policy of the HTTPS listener l, which
// Validate saw is known.
func listenerPolicy(l Listener) *SSLPolicy {
	if p := sslPolicyIndex[l.SSLPolicy]; p != nil {
		return p
	}
	return sslPolicyIndex[DefaultSSLPolicy]
}
