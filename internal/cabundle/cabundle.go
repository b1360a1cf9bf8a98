// Package cabundle gives the TLS configuration of Flotilla's own clients of
// a server's API (the agent, `flotilla lb`): the system's roots, plus the
// certificates of a PEM bundle, as aws-sdk-go-v2 does with AWS_CA_BUNDLE
// (the aws CLI and boto3 trust the bundle instead of their own roots). A
// server with a self-signed certificate names that certificate as the
// bundle.
package cabundle

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
)

// Env is the environment variable the aws CLI and SDKs read a bundle's
// path from; Flotilla's --ca-bundle flags default to it.
const Env = "AWS_CA_BUNDLE"

// ForServer is Load for a client of the API at serverURL: the bundle is
// read only when that is an https URL, so that an AWS_CA_BUNDLE set for
// other uses, stale or not, does not stop a client of a plain HTTP server.
func ForServer(serverURL, path string) (*tls.Config, error) {
	if u, err := url.Parse(serverURL); err != nil || u.Scheme != "https" {
		return nil, nil
	}
	return Load(path)
}

// Load returns the client TLS configuration that trusts the system's
// roots and the certificates in the PEM file at path, or nil (Go's
// defaults: the system's roots) when path is "".
func Load(path string) (*tls.Config, error) {
	if path == "" {
		return nil, nil
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("CA bundle %s: no PEM certificate in it", path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
