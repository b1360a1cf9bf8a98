package acm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cliResult is what one aws CLI run gave.
type cliResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// aws runs the aws CLI against the env's server, as e2e's runAWS does.
func (e *env) aws(t *testing.T, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append([]string{"--output", "json", "--endpoint-url", e.url}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_MAX_ATTEMPTS=1", "AWS_PAGER=",
		"AWS_ACCESS_KEY_ID=" + akid, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_DEFAULT_REGION=" + region, "AWS_REGION=" + region}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.ExitCode = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("aws %v: %v", args, err)
	}
	return res
}

// TestAWSCLI imports a certificate from PEM files with the aws CLI, reads
// it back, re-imports and deletes it.
func TestAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("the aws CLI is not installed (make deps installs it)")
	}
	e := newEnv(t)
	certPEM, _ := cert(t, certSpec{cn: "cli.example.com", dns: []string{"cli.example.com"}, key: rsa1()})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pkcs8(rsa1()), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := func(args ...string) string {
		t.Helper()
		r := e.aws(t, args...)
		if r.ExitCode != 0 {
			t.Fatalf("aws %s: exit %d: %s", strings.Join(args, " "), r.ExitCode, r.Stderr)
		}
		return r.Stdout
	}
	decode := func(s string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(s), v); err != nil {
			t.Fatalf("%v: %s", err, s)
		}
	}

	var imported struct{ CertificateArn string }
	decode(ok("acm", "import-certificate", "--certificate", "fileb://"+certFile, "--private-key", "fileb://"+keyFile,
		"--tags", "Key=env,Value=cli"), &imported)
	arn := imported.CertificateArn

	var described struct {
		Certificate struct {
			DomainName, Status, Type, KeyAlgorithm string
			NotAfter                               float64
		}
	}
	decode(ok("acm", "describe-certificate", "--certificate-arn", arn), &described)
	if c := described.Certificate; c.DomainName != "cli.example.com" || c.Status != "ISSUED" || c.Type != "IMPORTED" || c.KeyAlgorithm != "RSA_2048" {
		t.Errorf("describe-certificate: %+v", c)
	}

	var got struct{ Certificate string }
	decode(ok("acm", "get-certificate", "--certificate-arn", arn), &got)
	if got.Certificate != string(certPEM) {
		t.Errorf("get-certificate: %q", got.Certificate)
	}

	var listed struct {
		CertificateSummaryList []struct{ CertificateArn string }
	}
	decode(ok("acm", "list-certificates"), &listed)
	if len(listed.CertificateSummaryList) != 1 || listed.CertificateSummaryList[0].CertificateArn != arn {
		t.Errorf("list-certificates: %+v", listed)
	}

	// A re-import with text files (file://, not fileb://) works too.
	ok("acm", "import-certificate", "--certificate-arn", arn, "--certificate", "file://"+certFile, "--private-key", "file://"+keyFile)

	ok("acm", "delete-certificate", "--certificate-arn", arn)
	r := e.aws(t, "acm", "describe-certificate", "--certificate-arn", arn)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "ResourceNotFoundException") {
		t.Errorf("describe-certificate after delete: exit %d, %s", r.ExitCode, r.Stderr)
	}
}
