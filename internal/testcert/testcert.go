// Package testcert makes the self-signed certificates tests present on
// HTTPS listeners and import into ACM.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// SelfSigned returns a new self-signed ECDSA P-256 server certificate for
// name and 127.0.0.1, valid from an hour ago for a day, and its PKCS#8
// private key, both PEM.
func SelfSigned(t testing.TB, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	return selfSigned(t, name, []net.IP{net.IPv4(127, 0, 0, 1)})
}

// SelfSignedNameOnly is SelfSigned for name alone, no IP address.
func SelfSignedNameOnly(t testing.TB, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	return selfSigned(t, name, nil)
}

func selfSigned(t testing.TB, name string, ips []net.IP) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		IPAddresses:  ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

// Pair returns a new SelfSigned certificate for name, parsed: the
// certificate with its key, and its leaf.
func Pair(t testing.TB, name string) (*tls.Certificate, *x509.Certificate) {
	t.Helper()
	cert, err := tls.X509KeyPair(SelfSigned(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return &cert, cert.Leaf
}
