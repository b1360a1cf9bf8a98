package acm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/smithy-go"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/api/acm"
	"github.com/flotilla/flotilla/internal/api/sigv4"
	certrec "github.com/flotilla/flotilla/internal/cert"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

const (
	akid    = "AKIDEXAMPLE"
	secret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	region  = sdktest.Region
	account = "123456789012"
)

// start is the time of the service's clock when a test begins; the test
// certificates are valid from an hour before it to a day after.
var start = time.Now().UTC().Truncate(time.Second)

// env is a real API server with the ACM service over a bbolt store, and
// the real SDK client pointed at it.
type env struct {
	url    string // the API server's
	store  store.Store
	client *sdk.Client

	mu    sync.Mutex
	now   time.Time
	users map[string][]string // what Config.InUse answers, by certificate ARN
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{InitialMmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, now: start, users: map[string][]string{}}
	svc := acm.New(acm.Config{
		Store: st, Region: region, AccountID: account,
		Clock: func() time.Time {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.now
		},
		InUse: func(context.Context) (map[string][]string, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			return maps.Clone(e.users), nil
		},
	})
	s := api.NewServer(api.Config{Credentials: sigv4.StaticCredentials{akid: secret}, Logger: slog.New(slog.DiscardHandler)})
	s.HandleJSON(svc.JSONService())
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	e.url = hs.URL
	e.client = sdk.NewFromConfig(sdktest.Config(hs.URL, akid, secret))
	return e
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func (e *env) setUsers(arn string, users ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.users[arn] = users
}

// wantError fails the test unless err is the API error code with a
// message containing msg.
func wantError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("error %s: %q, want %s containing %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

// Keys are generated once: RSA generation is slow.
var (
	rsaKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
		var ks [2]*rsa.PrivateKey
		for i := range ks {
			ks[i] = sdktest.Must(rsa.GenerateKey(rand.Reader, 2048))
		}
		return ks
	})
	rsa1 = func() *rsa.PrivateKey { return rsaKeys()[0] }
	rsa2 = func() *rsa.PrivateKey { return rsaKeys()[1] }
)

func ecKey(c elliptic.Curve) *ecdsa.PrivateKey {
	return sdktest.Must(ecdsa.GenerateKey(c, rand.Reader))
}

// certSpec is a test certificate.
type certSpec struct {
	cn       string
	dns      []string
	ips      []net.IP
	key      crypto.Signer
	issuer   *x509.Certificate // nil: self-signed
	signer   crypto.Signer     // issuer's key
	notAfter time.Time         // zero: a day after start
	isCA     bool
}

// cert returns the PEM and the parsed form of a certificate.
func cert(t *testing.T, s certSpec) ([]byte, *x509.Certificate) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0x0abc_def0_1234),
		Subject:               pkix.Name{CommonName: s.cn, Organization: []string{"Flotilla Test"}},
		DNSNames:              s.dns,
		IPAddresses:           s.ips,
		NotBefore:             start.Add(-time.Hour),
		NotAfter:              s.notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  s.isCA,
	}
	if s.isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = start.Add(24 * time.Hour)
	}
	parent, signer := tmpl, s.key
	if s.issuer != nil {
		parent, signer = s.issuer, s.signer
	}
	der := sdktest.Must(x509.CreateCertificate(rand.Reader, tmpl, parent, s.key.Public(), signer))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), sdktest.Must(x509.ParseCertificate(der))
}

func pkcs8(k crypto.Signer) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: sdktest.Must(x509.MarshalPKCS8PrivateKey(k))})
}

func pkcs1(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// sec1 is an EC key as openssl ecparam -genkey writes it, with the curve
// in a block of its own first.
func sec1(k *ecdsa.PrivateKey) []byte {
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	return append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sdktest.Must(x509.MarshalECPrivateKey(k))})...)
}

var ctx = context.Background()

func (e *env) importCert(t *testing.T, in *sdk.ImportCertificateInput) string {
	t.Helper()
	out, err := e.client.ImportCertificate(ctx, in)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return aws.ToString(out.CertificateArn)
}

// TestLifecycle imports a CA-signed certificate with its chain, describes,
// gets, lists and looks it up, re-imports it, and deletes it.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	caKey := ecKey(elliptic.P384())
	caPEM, ca := cert(t, certSpec{cn: "Flotilla Test CA", key: caKey, isCA: true})
	certPEM, leaf := cert(t, certSpec{cn: "www.example.com", dns: []string{"www.example.com", "example.com"}, ips: []net.IP{net.ParseIP("192.0.2.1")},
		key: rsa1(), issuer: ca, signer: caKey})

	// Text around the blocks, as openssl writes it, is dropped.
	arn := e.importCert(t, &sdk.ImportCertificateInput{
		Certificate:      append([]byte("subject=CN = www.example.com\n"), certPEM...),
		CertificateChain: caPEM,
		PrivateKey:       pkcs1(rsa1()),
		Tags:             []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}},
	})
	if !strings.HasPrefix(arn, "arn:aws:acm:"+region+":"+account+":certificate/") {
		t.Fatalf("ARN %s", arn)
	}
	id := strings.TrimPrefix(arn, "arn:aws:acm:"+region+":"+account+":certificate/")
	if len(id) != 36 || id[14] != '4' || strings.Count(id, "-") != 4 {
		t.Fatalf("ARN %s does not end in a version 4 UUID", arn)
	}

	d := sdktest.Must(e.client.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: &arn})).Certificate
	if len(d.ExtendedKeyUsages) != 1 {
		t.Fatalf("describe: ExtendedKeyUsages %v, want TLS_WEB_SERVER_AUTHENTICATION", d.ExtendedKeyUsages)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"CertificateArn", aws.ToString(d.CertificateArn), arn},
		{"DomainName", aws.ToString(d.DomainName), "www.example.com"},
		{"SubjectAlternativeNames", d.SubjectAlternativeNames, []string{"www.example.com", "example.com", "192.0.2.1"}},
		{"Subject", aws.ToString(d.Subject), "CN=www.example.com,O=Flotilla Test"},
		{"Issuer", aws.ToString(d.Issuer), "CN=Flotilla Test CA,O=Flotilla Test"},
		{"Serial", aws.ToString(d.Serial), "0a:bc:de:f0:12:34"},
		{"KeyAlgorithm", d.KeyAlgorithm, types.KeyAlgorithmRsa2048},
		{"SignatureAlgorithm", aws.ToString(d.SignatureAlgorithm), "SHA384WITHECDSA"},
		{"Type", d.Type, types.CertificateTypeImported},
		{"Status", d.Status, types.CertificateStatusIssued},
		{"NotBefore", aws.ToTime(d.NotBefore), leaf.NotBefore},
		{"NotAfter", aws.ToTime(d.NotAfter), leaf.NotAfter},
		{"CreatedAt", aws.ToTime(d.CreatedAt), start},
		{"ImportedAt", aws.ToTime(d.ImportedAt), start},
		{"InUseBy", len(d.InUseBy), 0},
		{"KeyUsages", d.KeyUsages, []types.KeyUsage{{Name: types.KeyUsageNameDigitalSignature}}},
		{"ExtendedKeyUsages[0].Name", d.ExtendedKeyUsages[0].Name, types.ExtendedKeyUsageNameTlsWebServerAuthentication},
		{"ExtendedKeyUsages[0].OID", aws.ToString(d.ExtendedKeyUsages[0].OID), "1.3.6.1.5.5.7.3.1"},
		{"RenewalEligibility", d.RenewalEligibility, types.RenewalEligibilityIneligible},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("describe: %s = %v, want %v", c.name, c.got, c.want)
		}
	}

	g := sdktest.Must(e.client.GetCertificate(ctx, &sdk.GetCertificateInput{CertificateArn: &arn}))
	if aws.ToString(g.Certificate) != string(certPEM) || aws.ToString(g.CertificateChain) != string(caPEM) {
		t.Errorf("get: certificate %q, chain %q", aws.ToString(g.Certificate), aws.ToString(g.CertificateChain))
	}

	l := sdktest.Must(e.client.ListCertificates(ctx, &sdk.ListCertificatesInput{}))
	if len(l.CertificateSummaryList) != 1 || l.NextToken != nil {
		t.Fatalf("list: %d certificates, next token %v", len(l.CertificateSummaryList), l.NextToken)
	}
	sum := l.CertificateSummaryList[0]
	if aws.ToString(sum.CertificateArn) != arn || aws.ToString(sum.DomainName) != "www.example.com" || sum.Status != types.CertificateStatusIssued ||
		sum.KeyAlgorithm != types.KeyAlgorithmRsa2048 || sum.Type != types.CertificateTypeImported || aws.ToBool(sum.InUse) ||
		len(sum.SubjectAlternativeNameSummaries) != 3 || aws.ToBool(sum.HasAdditionalSubjectAlternativeNames) {
		t.Errorf("list: summary %+v", sum)
	}

	c, chain, key := must3(certrec.Lookup(ctx, e.store, arn))
	if string(c) != string(certPEM) || string(chain) != string(caPEM) || string(key) != string(pkcs1(rsa1())) {
		t.Errorf("lookup: certificate %q, chain %q, key %q", c, chain, key)
	}

	// Re-import: another certificate (another name, another key of the
	// same type and size, no chain) under the same ARN, tags kept.
	e.advance(time.Minute)
	newPEM, _ := cert(t, certSpec{cn: "api.example.com", key: rsa2()})
	if got := e.importCert(t, &sdk.ImportCertificateInput{CertificateArn: &arn, Certificate: newPEM, PrivateKey: pkcs8(rsa2())}); got != arn {
		t.Fatalf("re-import returned %s, want %s", got, arn)
	}
	d = sdktest.Must(e.client.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: &arn})).Certificate
	if aws.ToString(d.DomainName) != "api.example.com" || !slices.Equal(d.SubjectAlternativeNames, []string{"api.example.com"}) ||
		!aws.ToTime(d.CreatedAt).Equal(start) || !aws.ToTime(d.ImportedAt).Equal(start.Add(time.Minute)) {
		t.Errorf("describe after re-import: domain %s, SANs %v, created %v, imported %v", aws.ToString(d.DomainName), d.SubjectAlternativeNames, d.CreatedAt, d.ImportedAt)
	}
	g = sdktest.Must(e.client.GetCertificate(ctx, &sdk.GetCertificateInput{CertificateArn: &arn}))
	if aws.ToString(g.Certificate) != string(newPEM) || g.CertificateChain != nil {
		t.Errorf("get after re-import: certificate %q, chain %v", aws.ToString(g.Certificate), g.CertificateChain)
	}
	if _, chain, key := must3(certrec.Lookup(ctx, e.store, arn)); len(chain) != 0 || string(key) != string(pkcs8(rsa2())) {
		t.Errorf("lookup after re-import: chain %q, key %q", chain, key)
	}
	tags := sdktest.Must(e.client.ListTagsForCertificate(ctx, &sdk.ListTagsForCertificateInput{CertificateArn: &arn})).Tags
	if len(tags) != 1 || aws.ToString(tags[0].Key) != "env" {
		t.Errorf("tags after re-import: %v", tags)
	}

	sdktest.Must(e.client.DeleteCertificate(ctx, &sdk.DeleteCertificateInput{CertificateArn: &arn}))
	_, err := e.client.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: &arn})
	wantError(t, err, "ResourceNotFoundException", "Could not find certificate with arn "+arn)
	if l := sdktest.Must(e.client.ListCertificates(ctx, &sdk.ListCertificatesInput{})); len(l.CertificateSummaryList) != 0 {
		t.Errorf("list after delete: %d certificates", len(l.CertificateSummaryList))
	}
	if _, _, _, err := certrec.Lookup(ctx, e.store, arn); !errors.Is(err, certrec.ErrNotFound) {
		t.Errorf("lookup after delete: %v, want ErrNotFound", err)
	}
	_, err = e.client.DeleteCertificate(ctx, &sdk.DeleteCertificateInput{CertificateArn: &arn})
	wantError(t, err, "ResourceNotFoundException", arn)
}

func must3[A, B, C any](a A, b B, c C, err error) (A, B, C) {
	if err != nil {
		panic(fmt.Sprintf("unexpected error: %v", err))
	}
	return a, b, c
}

// TestKeyTypes imports the key types and encodings ACM takes.
func TestKeyTypes(t *testing.T) {
	e := newEnv(t)
	p256, p384, p521 := ecKey(elliptic.P256()), ecKey(elliptic.P384()), ecKey(elliptic.P521())
	tests := []struct {
		name    string
		key     crypto.Signer
		keyPEM  []byte
		want    types.KeyAlgorithm
		wantSig string
	}{
		{"RSA PKCS#1", rsa1(), pkcs1(rsa1()), types.KeyAlgorithmRsa2048, "SHA256WITHRSA"},
		{"RSA PKCS#8", rsa1(), pkcs8(rsa1()), types.KeyAlgorithmRsa2048, "SHA256WITHRSA"},
		{"P-256 SEC 1 with EC PARAMETERS", p256, sec1(p256), types.KeyAlgorithmEcPrime256v1, "SHA256WITHECDSA"},
		{"P-384 PKCS#8", p384, pkcs8(p384), types.KeyAlgorithmEcSecp384r1, "SHA384WITHECDSA"},
		{"P-521 PKCS#8", p521, pkcs8(p521), types.KeyAlgorithmEcSecp521r1, "SHA512WITHECDSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, _ := cert(t, certSpec{cn: "key.example.com", key: tt.key})
			arn := e.importCert(t, &sdk.ImportCertificateInput{Certificate: certPEM, PrivateKey: tt.keyPEM})
			d := sdktest.Must(e.client.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: &arn})).Certificate
			if d.KeyAlgorithm != tt.want || aws.ToString(d.SignatureAlgorithm) != tt.wantSig {
				t.Errorf("key algorithm %s, signature %s; want %s, %s", d.KeyAlgorithm, aws.ToString(d.SignatureAlgorithm), tt.want, tt.wantSig)
			}
			if _, _, key := must3(certrec.Lookup(ctx, e.store, arn)); strings.Contains(string(key), "EC PARAMETERS") {
				t.Errorf("stored key keeps the EC PARAMETERS block:\n%s", key)
			}
		})
	}
}

// TestImportInvalid checks that bad material is a ValidationException
// saying what is wrong, and that nothing is stored.
func TestImportInvalid(t *testing.T) {
	e := newEnv(t)
	certPEM, _ := cert(t, certSpec{cn: "www.example.com", key: rsa1()})
	ecCertPEM, _ := cert(t, certSpec{cn: "www.example.com", key: ecKey(elliptic.P256())})
	expiredPEM, _ := cert(t, certSpec{cn: "old.example.com", key: rsa1(), notAfter: start.Add(-time.Minute)})
	nameless, _ := cert(t, certSpec{key: rsa1()})
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edPEM, _ := cert(t, certSpec{cn: "ed.example.com", key: edKey})
	block, _ := pem.Decode(certPEM)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})

	tests := []struct {
		name             string
		cert, chain, key []byte
		want             string
	}{
		{"key of another certificate", certPEM, nil, pkcs8(rsa2()), "does not match"},
		{"key of another type", ecCertPEM, nil, pkcs8(rsa1()), "does not match"},
		{"garbage certificate", []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"), nil, pkcs8(rsa1()), "Unable to parse the certificate"},
		{"not PEM", []byte("hello"), nil, pkcs8(rsa1()), "must be PEM-encoded"},
		{"DER certificate", block.Bytes, nil, pkcs8(rsa1()), "must be PEM-encoded"},
		{"key in the certificate field", pkcs8(rsa1()), nil, pkcs8(rsa1()), `type "PRIVATE KEY"`},
		{"two certificates", append(append([]byte{}, certPEM...), certPEM...), nil, pkcs8(rsa1()), "more than one certificate"},
		{"garbage key", certPEM, nil, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "Unable to parse the private key"},
		{"key not PEM", certPEM, nil, []byte("secret"), "Unable to parse the private key"},
		{"encrypted key", certPEM, nil, encrypted, "encrypted"},
		{"two keys", certPEM, nil, append(pkcs8(rsa1()), pkcs1(rsa1())...), "more than one key"},
		{"garbage chain", certPEM, []byte("chain"), pkcs8(rsa1()), "Unable to parse the certificate chain"},
		{"expired", expiredPEM, nil, pkcs8(rsa1()), "expired"},
		{"no name", nameless, nil, pkcs8(rsa1()), "names no domain"},
		{"Ed25519", edPEM, nil, pkcs8(edKey), "not supported"},
		{"empty key", certPEM, nil, []byte{}, "PrivateKey must have length at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.ImportCertificate(ctx, &sdk.ImportCertificateInput{Certificate: tt.cert, CertificateChain: tt.chain, PrivateKey: tt.key})
			wantError(t, err, "ValidationException", tt.want)
		})
	}
	if kvs, _, err := e.store.List(ctx, certrec.RecordPrefix, store.ListOptions{}); err != nil || len(kvs) != 0 {
		t.Errorf("store holds %d certificates after failed imports (%v)", len(kvs), err)
	}
}

// TestARNErrors checks the answers to malformed ARNs and to ARNs of no
// certificate, for every operation that takes one.
func TestARNErrors(t *testing.T) {
	e := newEnv(t)
	certPEM, _ := cert(t, certSpec{cn: "www.example.com", key: rsa1()})
	arn := e.importCert(t, &sdk.ImportCertificateInput{Certificate: certPEM, PrivateKey: pkcs8(rsa1())})
	unknown := "arn:aws:acm:" + region + ":" + account + ":certificate/00000000-0000-4000-8000-000000000000"
	otherRegion := strings.Replace(arn, region, "eu-west-1", 1)
	otherAccount := strings.Replace(arn, account, "999999999999", 1)
	otherPartition := strings.Replace(arn, "arn:aws:", "arn:aws-cn:", 1)
	tag := []types.Tag{{Key: aws.String("k")}}
	ops := map[string]func(arn string) error{
		"DescribeCertificate": func(arn string) error {
			_, err := e.client.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: &arn})
			return err
		},
		"GetCertificate": func(arn string) error {
			_, err := e.client.GetCertificate(ctx, &sdk.GetCertificateInput{CertificateArn: &arn})
			return err
		},
		"DeleteCertificate": func(arn string) error {
			_, err := e.client.DeleteCertificate(ctx, &sdk.DeleteCertificateInput{CertificateArn: &arn})
			return err
		},
		"ImportCertificate": func(arn string) error {
			_, err := e.client.ImportCertificate(ctx, &sdk.ImportCertificateInput{CertificateArn: &arn, Certificate: certPEM, PrivateKey: pkcs8(rsa1())})
			return err
		},
		"AddTagsToCertificate": func(arn string) error {
			_, err := e.client.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: &arn, Tags: tag})
			return err
		},
		"RemoveTagsFromCertificate": func(arn string) error {
			_, err := e.client.RemoveTagsFromCertificate(ctx, &sdk.RemoveTagsFromCertificateInput{CertificateArn: &arn, Tags: tag})
			return err
		},
		"ListTagsForCertificate": func(arn string) error {
			_, err := e.client.ListTagsForCertificate(ctx, &sdk.ListTagsForCertificateInput{CertificateArn: &arn})
			return err
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			wantError(t, op(unknown), "ResourceNotFoundException", "Could not find certificate with arn "+unknown)
			for _, foreign := range []string{otherRegion, otherAccount, otherPartition} {
				wantError(t, op(foreign), "ResourceNotFoundException", foreign)
			}
			for _, bad := range []string{"not-an-arn-at-all-at-all", "arn:aws:ecs:us-east-1:123456789012:cluster/default", "arn:aws:acm:us-east-1:123456789012:certificate/a/b"} {
				wantError(t, op(bad), "InvalidArnException", bad)
			}
		})
	}

	_, err := e.client.ImportCertificate(ctx, &sdk.ImportCertificateInput{CertificateArn: &arn, Certificate: certPEM, PrivateKey: pkcs8(rsa1()), Tags: tag})
	wantError(t, err, "ValidationException", "Tagging is not permitted on re-import")
}

// TestReimportKeyType checks that a re-import cannot change the key type.
func TestReimportKeyType(t *testing.T) {
	e := newEnv(t)
	certPEM, _ := cert(t, certSpec{cn: "www.example.com", key: rsa1()})
	arn := e.importCert(t, &sdk.ImportCertificateInput{Certificate: certPEM, PrivateKey: pkcs8(rsa1())})
	k := ecKey(elliptic.P256())
	ecPEM, _ := cert(t, certSpec{cn: "www.example.com", key: k})
	_, err := e.client.ImportCertificate(ctx, &sdk.ImportCertificateInput{CertificateArn: &arn, Certificate: ecPEM, PrivateKey: pkcs8(k)})
	wantError(t, err, "ValidationException", "key type and size cannot change")
	if c, _, _ := must3(certrec.Lookup(ctx, e.store, arn)); string(c) != string(certPEM) {
		t.Error("failed re-import changed the certificate")
	}
}

// TestInUse checks that a certificate in use is reported so and cannot
// be deleted.
func TestInUse(t *testing.T) {
	e := newEnv(t)
	certPEM, _ := cert(t, certSpec{cn: "www.example.com", key: rsa1()})
	arn := e.importCert(t, &sdk.ImportCertificateInput{Certificate: certPEM, PrivateKey: pkcs8(rsa1())})
	listener := "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/0123456789abcdef/fedcba9876543210"
	e.setUsers(arn, listener)

	d := sdktest.Must(e.client.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: &arn})).Certificate
	if !slices.Equal(d.InUseBy, []string{listener}) {
		t.Errorf("InUseBy %v", d.InUseBy)
	}
	if l := sdktest.Must(e.client.ListCertificates(ctx, &sdk.ListCertificatesInput{})); !aws.ToBool(l.CertificateSummaryList[0].InUse) {
		t.Error("list: InUse false")
	}
	_, err := e.client.DeleteCertificate(ctx, &sdk.DeleteCertificateInput{CertificateArn: &arn})
	wantError(t, err, "ResourceInUseException", listener)
	must3(certrec.Lookup(ctx, e.store, arn))

	// A certificate in use can be re-imported.
	sdktest.Must(e.client.ImportCertificate(ctx, &sdk.ImportCertificateInput{CertificateArn: &arn, Certificate: certPEM, PrivateKey: pkcs1(rsa1())}))

	e.setUsers(arn)
	sdktest.Must(e.client.DeleteCertificate(ctx, &sdk.DeleteCertificateInput{CertificateArn: &arn}))
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	certPEM, _ := cert(t, certSpec{cn: "www.example.com", key: rsa1()})
	arn := e.importCert(t, &sdk.ImportCertificateInput{Certificate: certPEM, PrivateKey: pkcs8(rsa1()),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}, {Key: aws.String("team")}}})
	list := func() string {
		t.Helper()
		var parts []string
		for _, tg := range sdktest.Must(e.client.ListTagsForCertificate(ctx, &sdk.ListTagsForCertificateInput{CertificateArn: &arn})).Tags {
			if tg.Value == nil {
				parts = append(parts, aws.ToString(tg.Key))
			} else {
				parts = append(parts, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
			}
		}
		return strings.Join(parts, " ")
	}
	if got := list(); got != "env=dev team" {
		t.Fatalf("tags after import: %s", got)
	}
	sdktest.Must(e.client.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: &arn,
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("app"), Value: aws.String("web")}}}))
	if got := list(); got != "env=prod team app=web" {
		t.Fatalf("tags after add: %s", got)
	}
	// A tag named with a value goes only when the value matches; one
	// named without a value goes whatever its value.
	sdktest.Must(e.client.RemoveTagsFromCertificate(ctx, &sdk.RemoveTagsFromCertificateInput{CertificateArn: &arn,
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}, {Key: aws.String("app")}, {Key: aws.String("nope")}}}))
	if got := list(); got != "env=prod team" {
		t.Fatalf("tags after remove: %s", got)
	}

	_, err := e.client.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: &arn, Tags: []types.Tag{{Key: aws.String("aws:owner")}}})
	wantError(t, err, "InvalidTagException", "aws:")
	_, err = e.client.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: &arn, Tags: []types.Tag{{Key: aws.String("bad<key>")}}})
	wantError(t, err, "ValidationException", "Tags[0].Key")
	_, err = e.client.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: &arn, Tags: []types.Tag{}})
	wantError(t, err, "ValidationException", "Tags")
	var many []types.Tag
	for i := range 49 {
		many = append(many, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i))})
	}
	_, err = e.client.AddTagsToCertificate(ctx, &sdk.AddTagsToCertificateInput{CertificateArn: &arn, Tags: many})
	wantError(t, err, "TooManyTagsException", "51")
	if got := list(); got != "env=prod team" {
		t.Fatalf("tags after failed adds: %s", got)
	}
}

// TestListCertificates checks paging, sorting and filters.
func TestListCertificates(t *testing.T) {
	e := newEnv(t)
	var rsaARNs, ecARNs []string
	for i := range 3 {
		certPEM, _ := cert(t, certSpec{cn: fmt.Sprintf("rsa%d.example.com", i), key: rsa1(), notAfter: start.Add(time.Duration(i+1) * time.Hour)})
		rsaARNs = append(rsaARNs, e.importCert(t, &sdk.ImportCertificateInput{Certificate: certPEM, PrivateKey: pkcs8(rsa1())}))
		e.advance(time.Second)
		k := ecKey(elliptic.P256())
		certPEM, _ = cert(t, certSpec{cn: fmt.Sprintf("ec%d.example.com", i), key: k})
		ecARNs = append(ecARNs, e.importCert(t, &sdk.ImportCertificateInput{Certificate: certPEM, PrivateKey: pkcs8(k)}))
		e.advance(time.Second)
	}
	created := []string{rsaARNs[0], ecARNs[0], rsaARNs[1], ecARNs[1], rsaARNs[2], ecARNs[2]}

	all := func(in sdk.ListCertificatesInput) []string {
		t.Helper()
		var arns []string
		p := sdk.NewListCertificatesPaginator(e.client, &in)
		for p.HasMorePages() {
			page := sdktest.Must(p.NextPage(ctx))
			if in.MaxItems != nil && len(page.CertificateSummaryList) > int(*in.MaxItems) {
				t.Fatalf("page of %d with MaxItems %d", len(page.CertificateSummaryList), *in.MaxItems)
			}
			for _, s := range page.CertificateSummaryList {
				arns = append(arns, aws.ToString(s.CertificateArn))
			}
		}
		return arns
	}
	sorted := slices.Sorted(slices.Values(created))
	if got := all(sdk.ListCertificatesInput{MaxItems: aws.Int32(4)}); !slices.Equal(got, sorted) {
		t.Errorf("pages of 4:\n%v\nwant\n%v", got, sorted)
	}
	if got := all(sdk.ListCertificatesInput{MaxItems: aws.Int32(1), SortOrder: types.SortOrderDescending}); !slices.Equal(got, reversed(sorted)) {
		t.Errorf("pages of 1, descending:\n%v\nwant\n%v", got, reversed(sorted))
	}
	if got := all(sdk.ListCertificatesInput{MaxItems: aws.Int32(2), SortBy: types.SortByCreatedAt}); !slices.Equal(got, created) {
		t.Errorf("by creation:\n%v\nwant\n%v", got, created)
	}
	if got := all(sdk.ListCertificatesInput{MaxItems: aws.Int32(5), SortBy: types.SortByCreatedAt, SortOrder: types.SortOrderDescending}); !slices.Equal(got, reversed(created)) {
		t.Errorf("by creation, descending:\n%v\nwant\n%v", got, reversed(created))
	}
	if got := all(sdk.ListCertificatesInput{SortBy: types.SortByCreatedAt, Includes: &types.Filters{KeyTypes: []types.KeyAlgorithm{types.KeyAlgorithmEcPrime256v1}}}); !slices.Equal(got, ecARNs) {
		t.Errorf("EC only: %v, want %v", got, ecARNs)
	}
	if got := all(sdk.ListCertificatesInput{Includes: &types.Filters{ExtendedKeyUsage: []types.ExtendedKeyUsageName{types.ExtendedKeyUsageNameCodeSigning}}}); len(got) != 0 {
		t.Errorf("code signing: %v, want none", got)
	}

	// Two and a half hours on, the first two RSA certificates have expired.
	e.advance(150 * time.Minute)
	if got := all(sdk.ListCertificatesInput{SortBy: types.SortByCreatedAt, CertificateStatuses: []types.CertificateStatus{types.CertificateStatusExpired}}); !slices.Equal(got, rsaARNs[:2]) {
		t.Errorf("expired: %v, want %v", got, rsaARNs[:2])
	}
	if got := all(sdk.ListCertificatesInput{SortBy: types.SortByCreatedAt, CertificateStatuses: []types.CertificateStatus{types.CertificateStatusIssued}}); !slices.Equal(got, []string{ecARNs[0], ecARNs[1], rsaARNs[2], ecARNs[2]}) {
		t.Errorf("issued: %v", got)
	}
	d := sdktest.Must(e.client.DescribeCertificate(ctx, &sdk.DescribeCertificateInput{CertificateArn: &rsaARNs[0]})).Certificate
	if d.Status != types.CertificateStatusExpired {
		t.Errorf("describe of an expired certificate: status %s", d.Status)
	}

	_, err := e.client.ListCertificates(ctx, &sdk.ListCertificatesInput{NextToken: aws.String("bogus")})
	wantError(t, err, "InvalidArgsException", "NextToken")
	_, err = e.client.ListCertificates(ctx, &sdk.ListCertificatesInput{MaxItems: aws.Int32(1001)})
	wantError(t, err, "ValidationException", "MaxItems")
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func TestLookupMalformed(t *testing.T) {
	e := newEnv(t)
	for _, arn := range []string{"", "arn:aws:acm:us-east-1:123456789012:certificate/", "arn:aws:acm:us-east-1:123456789012:certificate/../x"} {
		if _, _, _, err := certrec.Lookup(ctx, e.store, arn); !errors.Is(err, certrec.ErrNotFound) {
			t.Errorf("Lookup(%q): %v, want ErrNotFound", arn, err)
		}
	}
}
