package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/testcert"
	"github.com/flotilla/flotilla/internal/testport"
)

// TestTLSAPI serves the API over HTTPS (`flotilla up --tls-cert --tls-key`)
// and drives it as a user would: the printed environment points the aws
// CLI at the https endpoint and names the certificate as AWS_CA_BUNDLE,
// the CLI without the bundle refuses the server, plain HTTP gets no API,
// the in-process agent registers and holds its link over TLS, and a
// `flotilla lb` given the bundle follows the load balancers' configuration
// over TLS.
func TestTLSAPI(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCertificate(t, dir, "localhost")
	s := startUp(t, filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile, "--cpu", "1024", "--memory", "1024")
	if !strings.HasPrefix(s.Endpoint, "https://127.0.0.1:") {
		t.Fatalf("endpoint %q, want https://127.0.0.1:…", s.Endpoint)
	}
	if got, want := s.Env["AWS_CA_BUNDLE"], certFile; got != want {
		t.Fatalf("AWS_CA_BUNDLE=%q, want %q", got, want)
	}

	// The agent in the process registered and opened its link: both over TLS.
	eventually(t, 60*time.Second, func() bool {
		var out struct {
			ContainerInstances []struct{ AgentConnected bool }
		}
		var list struct{ ContainerInstanceArns []string }
		mustJSON(t, s.aws(t, "ecs", "list-container-instances"), &list)
		if len(list.ContainerInstanceArns) != 1 {
			return false
		}
		mustJSON(t, s.aws(t, "ecs", "describe-container-instances", "--container-instances", list.ContainerInstanceArns[0]), &out)
		return len(out.ContainerInstances) == 1 && out.ContainerInstances[0].AgentConnected
	})

	// Without the bundle, the CLI does not trust the server.
	env := maps.Clone(s.Env)
	delete(env, "AWS_CA_BUNDLE")
	if r := runAWS(t, env, "ecs", "list-clusters"); r.ExitCode == 0 || !strings.Contains(strings.ToLower(r.Stderr), "certificate") {
		t.Errorf("aws without AWS_CA_BUNDLE: exit %d, %s; want a certificate error", r.ExitCode, r.Stderr)
	}
	// Plain HTTP gets Go's answer to an HTTP request on an HTTPS port.
	resp, err := http.Get("http://" + strings.TrimPrefix(s.Endpoint, "https://") + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
		t.Errorf("plain HTTP: %d %q, want 400 and a word about HTTPS", resp.StatusCode, body)
	}

	// A load balancer node over TLS serves a listener made with the CLI.
	startLB(t, s, "lb-tls", "127.0.0.2", "--ca-bundle", certFile)
	var lbs struct {
		LoadBalancers []struct{ LoadBalancerArn string }
	}
	mustJSON(t, s.aws(t, "elbv2", "create-load-balancer", "--name", "secure-api"), &lbs)
	port := testport.Free(t)
	mustJSON(t, s.aws(t, "elbv2", "create-listener", "--load-balancer-arn", lbs.LoadBalancers[0].LoadBalancerArn,
		"--protocol", "HTTP", "--port", fmt.Sprint(port),
		"--default-actions", `Type=fixed-response,FixedResponseConfig={StatusCode=200,ContentType=text/plain,MessageBody=over-tls}`), &struct{}{})
	// And an HTTPS listener: its certificate and key reached the node
	// over TLS.
	siteCert, siteKey := writeCertificate(t, t.TempDir(), "secure.test")
	var imported struct{ CertificateArn string }
	mustJSON(t, s.aws(t, "acm", "import-certificate", "--certificate", "fileb://"+siteCert, "--private-key", "fileb://"+siteKey), &imported)
	tlsPort := testport.Free(t)
	mustJSON(t, s.aws(t, "elbv2", "create-listener", "--load-balancer-arn", lbs.LoadBalancers[0].LoadBalancerArn,
		"--protocol", "HTTPS", "--port", fmt.Sprint(tlsPort), "--certificates", "CertificateArn="+imported.CertificateArn,
		"--default-actions", `Type=fixed-response,FixedResponseConfig={StatusCode=200,ContentType=text/plain,MessageBody=over-tls}`), &struct{}{})
	sitePEM, err := os.ReadFile(siteCert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(sitePEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "secure.test"}}}
	for _, url := range []string{fmt.Sprintf("http://127.0.0.2:%d/", port), fmt.Sprintf("https://127.0.0.2:%d/", tlsPort)} {
		eventually(t, 60*time.Second, func() bool {
			resp, err := client.Get(url)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode == 200 && string(b) == "over-tls"
		})
	}
}

// TestTLSAPICertificateMustNameListen checks that `flotilla up` refuses,
// and exits, when its certificate does not name the --listen address that
// it gives agents (and dials itself) as the endpoint.
func TestTLSAPICertificateMustNameListen(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := testcert.SelfSignedNameOnly(t, "api.example")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "up", "--listen", fmt.Sprintf("127.0.0.1:%d", testport.Free(t)),
		"--data-dir", filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || ctx.Err() != nil {
		t.Fatalf("flotilla up: %v (context %v), want exit status 1; output:\n%s", err, ctx.Err(), out)
	}
	if want := "--tls-cert does not name the --listen address 127.0.0.1"; !strings.Contains(string(out), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}
