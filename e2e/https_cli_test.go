package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/testcert"
	"github.com/flotilla/flotilla/internal/testport"
)

// TestCLIHTTPSListener imports a certificate into ACM with the aws CLI,
// reads it back, and serves an HTTPS listener with it: the listener presents it, follows its
// re-import without a restart, keeps it across a restart of the server, and
// ACM refuses to delete it while the listener uses it.
func TestCLIHTTPSListener(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	certFile, keyFile := writeCertificate(t, t.TempDir(), "shop.example")

	var imported struct{ CertificateArn string }
	mustJSON(t, s.aws(t, "acm", "import-certificate", "--certificate", "fileb://"+certFile, "--private-key", "fileb://"+keyFile,
		"--tags", "Key=env,Value=shop"), &imported)
	certARN := imported.CertificateArn
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Certificate string }
	mustJSON(t, s.aws(t, "acm", "get-certificate", "--certificate-arn", certARN), &got)
	if got.Certificate != string(certPEM) {
		t.Fatalf("get-certificate: %q, want the imported PEM", got.Certificate)
	}
	var listed struct {
		CertificateSummaryList []struct {
			CertificateArn, DomainName string
			InUse                      bool
		}
	}
	mustJSON(t, s.aws(t, "acm", "list-certificates"), &listed)
	if l := listed.CertificateSummaryList; len(l) != 1 || l[0].CertificateArn != certARN || l[0].DomainName != "shop.example" || l[0].InUse {
		t.Fatalf("list-certificates: %+v", listed)
	}
	var tags struct{ Tags []struct{ Key, Value string } }
	mustJSON(t, s.aws(t, "acm", "list-tags-for-certificate", "--certificate-arn", certARN), &tags)
	if len(tags.Tags) != 1 || tags.Tags[0].Key != "env" || tags.Tags[0].Value != "shop" {
		t.Fatalf("list-tags-for-certificate: %+v", tags)
	}

	var lbs struct {
		LoadBalancers []struct{ LoadBalancerArn string }
	}
	mustJSON(t, s.aws(t, "elbv2", "create-load-balancer", "--name", "shop", "--subnets", "subnet-a", "subnet-b"), &lbs)
	lbARN := lbs.LoadBalancers[0].LoadBalancerArn
	port := testport.Free(t)
	secure := "Type=fixed-response,FixedResponseConfig={StatusCode=200,ContentType=text/plain,MessageBody=secure}"
	wantCLIError(t, s.aws(t, "elbv2", "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTPS", "--port", strconv.Itoa(port),
		"--default-actions", secure), "ValidationError")
	wantCLIError(t, s.aws(t, "elbv2", "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTPS", "--port", strconv.Itoa(port),
		"--certificates", "CertificateArn="+certARN+"0", "--default-actions", secure), "CertificateNotFound")
	var listeners struct {
		Listeners []struct {
			ListenerArn, Protocol, SslPolicy string
			Certificates                     []struct{ CertificateArn string }
		}
	}
	mustJSON(t, s.aws(t, "elbv2", "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTPS", "--port", strconv.Itoa(port),
		"--certificates", "CertificateArn="+certARN, "--default-actions", secure), &listeners)
	l := listeners.Listeners[0]
	if l.Protocol != "HTTPS" || l.SslPolicy != "ELBSecurityPolicy-2016-08" || len(l.Certificates) != 1 || l.Certificates[0].CertificateArn != certARN {
		t.Fatalf("create-listener: %+v", l)
	}

	url := fmt.Sprintf("https://127.0.0.1:%d/", port)
	eventually(t, 30*time.Second, func() bool { return servedName(url) == "shop.example secure" })

	// ACM knows who uses the certificate, and will not delete it.
	var described struct {
		Certificate struct {
			CertificateArn, DomainName, Status, Type string
			InUseBy                                  []string
		}
	}
	mustJSON(t, s.aws(t, "acm", "describe-certificate", "--certificate-arn", certARN), &described)
	if c := described.Certificate; c.DomainName != "shop.example" || c.Status != "ISSUED" || c.Type != "IMPORTED" || !slices.Equal(c.InUseBy, []string{lbARN}) {
		t.Fatalf("describe-certificate: %+v", c)
	}
	wantCLIError(t, s.aws(t, "acm", "delete-certificate", "--certificate-arn", certARN), "ResourceInUseException")

	// A re-import under the same ARN is what the listener presents next;
	// PEM read as text (file://) does as well as bytes (fileb://).
	certFile, keyFile = writeCertificate(t, t.TempDir(), "shop-renewed.example")
	mustJSON(t, s.aws(t, "acm", "import-certificate", "--certificate-arn", certARN,
		"--certificate", "file://"+certFile, "--private-key", "file://"+keyFile), &imported)
	if imported.CertificateArn != certARN {
		t.Fatalf("re-import returned %s, want %s", imported.CertificateArn, certARN)
	}
	eventually(t, 30*time.Second, func() bool { return servedName(url) == "shop-renewed.example secure" })

	// A stricter security policy, described first: TLS 1.3 only, from the
	// next connection.
	const tls13Only = "ELBSecurityPolicy-TLS13-1-3-2021-06"
	var policies struct {
		SslPolicies []struct {
			Name         string
			SslProtocols []string
			Ciphers      []struct{ Name string }
		}
	}
	mustJSON(t, s.aws(t, "elbv2", "describe-ssl-policies", "--names", tls13Only), &policies)
	if p := policies.SslPolicies; len(p) != 1 || p[0].Name != tls13Only || !slices.Equal(p[0].SslProtocols, []string{"TLSv1.3"}) || len(p[0].Ciphers) == 0 {
		t.Fatalf("describe-ssl-policies: %+v", policies)
	}
	wantCLIError(t, s.aws(t, "elbv2", "describe-ssl-policies", "--names", "ELBSecurityPolicy-Nope"), "SSLPolicyNotFound")
	var modified struct {
		Listeners []struct {
			Protocol, SslPolicy string
			Certificates        []struct{ CertificateArn string }
		}
	}
	mustJSON(t, s.aws(t, "elbv2", "modify-listener", "--listener-arn", l.ListenerArn, "--ssl-policy", tls13Only), &modified)
	if got := modified.Listeners[0].SslPolicy; got != tls13Only {
		t.Fatalf("modify-listener --ssl-policy: policy %q", got)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	eventually(t, 30*time.Second, func() bool { return handshakes(addr, tls.VersionTLS12) != nil })
	if err := handshakes(addr, tls.VersionTLS13); err != nil {
		t.Fatalf("a TLS 1.3 client under %s: %v", tls13Only, err)
	}

	// The certificate and the listener are state: a restarted server
	// serves them again, under the listener's policy.
	s.Stop()
	s = startServer(t, dir)
	eventually(t, 30*time.Second, func() bool { return servedName(url) == "shop-renewed.example secure" })
	if err := handshakes(addr, tls.VersionTLS12); err == nil {
		t.Errorf("after a restart a TLS 1.2 client got through %s", tls13Only)
	}

	// Back to HTTP, the listener lets go of the certificate.
	modified.Listeners = nil
	mustJSON(t, s.aws(t, "elbv2", "modify-listener", "--listener-arn", l.ListenerArn, "--protocol", "HTTP"), &modified)
	if l := modified.Listeners[0]; l.Protocol != "HTTP" || len(l.Certificates) != 0 || l.SslPolicy != "" {
		t.Fatalf("modify-listener to HTTP: %+v", l)
	}
	eventually(t, 30*time.Second, func() bool { return httpBody(fmt.Sprintf("http://127.0.0.1:%d/", port)) == "secure" })
	if res := s.aws(t, "acm", "delete-certificate", "--certificate-arn", certARN); res.ExitCode != 0 {
		t.Fatalf("delete-certificate: %s", res.Stderr)
	}
	wantCLIError(t, s.aws(t, "acm", "describe-certificate", "--certificate-arn", certARN), "ResourceNotFoundException")
}

// servedName returns the common name of the certificate url presents and
// the body it answers, or "" when the request fails.
func servedName(url string) string {
	var name string
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // the test reads the certificate presented
		VerifyConnection: func(cs tls.ConnectionState) error {
			name = cs.PeerCertificates[0].Subject.CommonName
			return nil
		},
	}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return name + " " + string(body)
}

// writeCertificate writes a self-signed certificate for name and
// 127.0.0.1, and its key, as PEM files in dir.
func writeCertificate(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM := testcert.SelfSigned(t, name)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// handshakes completes a TLS handshake with addr as a client of at most
// version maxVersion.
func handshakes(addr string, maxVersion uint16) error {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{
		MaxVersion:         maxVersion,
		InsecureSkipVerify: true, //nolint:gosec // the test checks the versions negotiated, not the certificate
	})
	if err != nil {
		return err
	}
	return conn.Close()
}
