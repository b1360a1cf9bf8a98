package acm_test

import (
	"bytes"
	"crypto/elliptic"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/acm/types"

	"github.com/flotilla/flotilla/internal/sdktest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// varying are the members whose values differ from run to run (the test
// certificates are made afresh, valid from the time the test runs).
var varying = map[string]bool{"CreatedAt": true, "ImportedAt": true, "IssuedAt": true, "NotAfter": true, "NotBefore": true, "Serial": true}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestGoldenResponses pins the whole body of every List and Describe
// response of ACM, without certificates and with one: which members are
// sent, empty lists included, as ACM sends them ({"CertificateSummaryList":
// []} when there is none, "InUseBy": [] for a certificate nothing uses).
// Run with -update to rewrite testdata/golden after a reviewed change.
func TestGoldenResponses(t *testing.T) {
	e := newEnv(t)
	rec := &sdktest.Recorder{}
	cfg := sdktest.Config(e.url, akid, secret)
	cfg.HTTPClient = &http.Client{Transport: rec}
	c := sdk.NewFromConfig(cfg)
	golden := func(name string, call func() error) {
		t.Helper()
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkGolden(t, name, rec.Last())
	}
	golden("empty/ListCertificates", func() error { _, err := c.ListCertificates(ctx, &sdk.ListCertificatesInput{}); return err })

	key := ecKey(elliptic.P256())
	certPEM, _ := cert(t, certSpec{cn: "www.example.com", dns: []string{"www.example.com"}, key: key})
	arn := e.importCert(t, &sdk.ImportCertificateInput{Certificate: certPEM, PrivateKey: pkcs8(key)})
	golden("full/ListCertificates", func() error { _, err := c.ListCertificates(ctx, &sdk.ListCertificatesInput{}); return err })
	golden("full/DescribeCertificate", func() error {
		_, err := c.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: aws.String(arn)})
		return err
	})
	golden("full/ListTagsForCertificateEmpty", func() error {
		_, err := c.ListTagsForCertificate(ctx, &sdk.ListTagsForCertificateInput{CertificateArn: aws.String(arn)})
		return err
	})
	sdktest.Must(c.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: aws.String(arn),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}))
	golden("full/ListTagsForCertificate", func() error {
		_, err := c.ListTagsForCertificate(ctx, &sdk.ListTagsForCertificateInput{CertificateArn: aws.String(arn)})
		return err
	})
}

// checkGolden compares body, with the varying values replaced, indented,
// with testdata/golden/name.json, or writes it there with -update.
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(uuidRE.ReplaceAll(body, []byte("ID")), &v); err != nil {
		t.Fatalf("%s: response is not JSON: %v: %s", name, err, body)
	}
	out, err := json.MarshalIndent(mask(v), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run with -update to create it)", name, err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("%s differs from %s:\n%s", name, path, out)
	}
}

// mask replaces the values of the varying members, at any depth.
func mask(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if varying[k] {
				v[k] = "VARIES"
			} else {
				v[k] = mask(x)
			}
		}
	case []any:
		for i := range v {
			v[i] = mask(v[i])
		}
	}
	return v
}
