package lb

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"
)

// selfSigned returns a certificate for name, and a pool that trusts it.
func selfSigned(t *testing.T, name string) (*tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// TestHTTPS serves an HTTPS listener with two certificates chosen by SNI.
func TestHTTPS(t *testing.T) {
	def, defLeaf := selfSigned(t, "default.example")
	api, apiLeaf := selfSigned(t, "api.example")
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
	cfg := oneListener(forward(tgARN("echo")), nil, group("echo", echo))
	cfg.Listeners[0].Protocol = ProtocolHTTPS
	cfg.Listeners[0].Certificates = []Certificate{{ARN: "cert/default"}, {ARN: "cert/api"}}
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
