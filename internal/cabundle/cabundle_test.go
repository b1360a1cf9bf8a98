package cabundle_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla/flotilla/internal/cabundle"
	"github.com/flotilla/flotilla/internal/testcert"
)

// TestLoad checks that a client with the bundle trusts a server whose
// self-signed certificate is in it, and one without it does not.
func TestLoad(t *testing.T) {
	certPEM, keyPEM := testcert.SelfSigned(t, "flotilla.test")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.StartTLS()
	defer hs.Close()

	dir := t.TempDir()
	bundle := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(bundle, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	conf, err := cabundle.Load(bundle)
	if err != nil {
		t.Fatal(err)
	}
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
	resp, err := trusting.Get(hs.URL)
	if err != nil {
		t.Fatalf("with the bundle: %v", err)
	}
	resp.Body.Close()

	if conf, err := cabundle.Load(""); conf != nil || err != nil {
		t.Errorf("no bundle: %v, %v; want Go's defaults", conf, err)
	}
	if _, err := http.Get(hs.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the bundle: %v, want a certificate error", err)
	}

	if conf, err := cabundle.ForServer("http://127.0.0.1:9400", filepath.Join(dir, "missing.pem")); conf != nil || err != nil {
		t.Errorf("a missing bundle for an http server: %v, %v; want it not read", conf, err)
	}
	if _, err := cabundle.ForServer("https://127.0.0.1:9400", filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("a missing bundle for an https server: no error")
	}

	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{notPEM, filepath.Join(dir, "missing.pem")} {
		if _, err := cabundle.Load(path); err == nil {
			t.Errorf("Load(%s) succeeded", path)
		}
	}
}
