package lb

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flotilla/flotilla/internal/testcert"
)

// TestHTTPS serves an HTTPS listener with two certificates chosen by SNI.
func TestHTTPS(t *testing.T) {
	def, defLeaf := testcert.Pair(t, "default.example")
	api, apiLeaf := testcert.Pair(t, "api.example")
	certs := map[string]*tls.Certificate{"cert/default": def, "cert/api": api}
	s, _ := newTestServer(t, Options{Certificates: func(arn string) (*tls.Certificate, error) {
		if c, ok := certs[arn]; ok {
			return c, nil
		}
		return nil, fmt.Errorf("no certificate %s", arn)
	}})
	echo := newBackend(t, "echo")
	echo.setHandler(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("X-Forwarded-Proto"))
	})
	cfg := oneHTTPSListener(group("echo", echo), "cert/default", "cert/api")
	mustUpdate(t, s, cfg)
	addr := s.Addr(listenerARN).String()

	roots := x509.NewCertPool()
	roots.AddCert(defLeaf)
	roots.AddCert(apiLeaf)
	for _, tt := range []struct{ serverName, want string }{
		{"api.example", "api.example"},
		{"default.example", "default.example"},
		{"", "default.example"},
	} {
		t.Run(tt.want+" for "+tt.serverName, func(t *testing.T) {
			var got string
			tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{
				RootCAs: roots, ServerName: tt.serverName, InsecureSkipVerify: tt.serverName == "",
				VerifyConnection: func(cs tls.ConnectionState) error {
					got = cs.PeerCertificates[0].Subject.CommonName
					return nil
				},
			}}
			defer tr.CloseIdleConnections()
			resp := get(t, &http.Client{Transport: tr}, "https://"+addr+"/")
			if resp.code != 200 || resp.body != "https" {
				t.Errorf("got %d %q, want 200 with X-Forwarded-Proto https", resp.code, resp.body)
			}
			if got != tt.want {
				t.Errorf("certificate %q, want %q", got, tt.want)
			}
		})
	}

	cfg.Listeners[0].Certificates = []Certificate{{ARN: "cert/missing"}}
	if err := s.Update(cfg); err == nil {
		t.Error("Update with a certificate that cannot be had succeeded")
	}
}

// material returns a new self-signed certificate for name as the material
// of the certificate arn.
func material(t *testing.T, arn, name string) CertificateMaterial {
	certPEM, keyPEM := testcert.SelfSigned(t, name)
	return CertificateMaterial{ARN: arn, CertificatePEM: string(certPEM), PrivateKeyPEM: string(keyPEM)}
}

// TestHTTPSMaterial serves an HTTPS listener whose certificate comes with
// the configuration, as the control plane sends certificates imported into
// ACM, and follows its re-import.
func TestHTTPSMaterial(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	echo := newBackend(t, "echo")
	cfg := oneHTTPSListener(group("echo", echo), "cert/site")
	// A certificate that cannot be had fails its listener, not the others.
	plain := cfg.Listeners[0]
	plain.ARN, plain.Protocol, plain.Certificates = listenerARN+"-plain", ProtocolHTTP, nil
	cfg.Listeners = append(cfg.Listeners, plain)
	if err := s.Update(cfg); err == nil || !strings.Contains(err.Error(), "cert/site") {
		t.Fatalf("Update of an HTTPS listener without its certificate: %v, want an error naming it", err)
	}
	if resp := get(t, http.DefaultClient, "http://"+s.Addr(plain.ARN).String()+"/"); resp.code != 200 {
		t.Errorf("the other listener answered %d, want 200", resp.code)
	}

	served := func() string {
		t.Helper()
		var cn string
		tr := &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the test reads what is presented
			VerifyConnection: func(cs tls.ConnectionState) error {
				cn = cs.PeerCertificates[0].Subject.CommonName
				return nil
			},
		}}
		defer tr.CloseIdleConnections()
		if resp := get(t, &http.Client{Transport: tr}, "https://"+s.Addr(listenerARN).String()+"/"); resp.code != 200 {
			t.Errorf("got %d, want 200", resp.code)
		}
		return cn
	}
	cfg.Certificates = []CertificateMaterial{material(t, "cert/site", "first.example")}
	mustUpdate(t, s, cfg)
	if got := served(); got != "first.example" {
		t.Errorf("served %q, want first.example", got)
	}

	cfg.Certificates = []CertificateMaterial{material(t, "cert/site", "second.example")}
	mustUpdate(t, s, cfg)
	if got := served(); got != "second.example" {
		t.Errorf("after re-import served %q, want second.example", got)
	}

	// Material that does not parse fails the update, and the listener
	// keeps the certificate it had.
	bad := cfg
	bad.Certificates = []CertificateMaterial{{ARN: "cert/site", CertificatePEM: "junk", PrivateKeyPEM: "junk"}}
	if err := s.Update(bad); err == nil {
		t.Error("Update with material that does not parse succeeded")
	}
	if got := served(); got != "second.example" {
		t.Errorf("after a bad update served %q, want second.example", got)
	}
}
