package acm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	wire "github.com/flotilla/flotilla/internal/model/acm"
	"github.com/flotilla/flotilla/internal/ptr"
)

// material is a certificate, its chain and its private key as
// ImportCertificate accepts them: checked, and normalized to bare PEM
// blocks (no text around them, no EC PARAMETERS block).
type material struct {
	leaf     *x509.Certificate
	keyAlg   wire.KeyAlgorithm
	certPEM  string
	chainPEM string
	keyPEM   string
}

// parseMaterial checks an import's material as ACM does, at time now: the
// certificate is one PEM X.509 v3 certificate, valid now, naming a domain
// (subject CN or a subject alternative name), with a key type and size
// ACM supports; the chain, optional, is PEM certificates; the key is one
// unencrypted PEM private key (PKCS#1, PKCS#8 or SEC 1) matching the
// certificate. It returns a ValidationException saying what is wrong.
// The chain is not verified against the certificate.
func parseMaterial(certIn, chainIn, keyIn []byte, now time.Time) (*material, error) {
	certs, err := parseCertificates(certIn, "certificate")
	if err != nil {
		return nil, err
	}
	if len(certs) > 1 {
		return nil, errValidation("The certificate field contains more than one certificate. You can specify only one certificate in this field; put the intermediate certificates in the certificate chain.")
	}
	leaf := certs[0]
	if leaf.Version != 3 {
		return nil, errValidation("The certificate is an X.509 version %d certificate; only version 3 certificates can be imported.", leaf.Version)
	}
	if now.Before(leaf.NotBefore) {
		return nil, errValidation("The certificate is not valid yet: it is valid from %s.", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return nil, errValidation("The certificate expired on %s.", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if domainName(leaf) == "" {
		return nil, errValidation("The certificate names no domain: it has neither a subject common name nor a subject alternative name.")
	}
	alg, ok := keyAlgorithm(leaf)
	if !ok {
		return nil, errValidation("The certificate's public key (%s) is not supported: ACM supports RSA keys of 1024, 2048, 3072 or 4096 bits and ECDSA keys on P-256, P-384 or P-521.", publicKeyDescription(leaf))
	}
	m := &material{leaf: leaf, keyAlg: alg, certPEM: string(encodeCertificates(certs))}

	if len(bytes.TrimSpace(chainIn)) > 0 {
		chain, err := parseCertificates(chainIn, "certificate chain")
		if err != nil {
			return nil, err
		}
		m.chainPEM = string(encodeCertificates(chain))
	}

	key, err := parsePrivateKey(keyIn)
	if err != nil {
		return nil, err
	}
	m.keyPEM = string(pem.EncodeToMemory(key))
	if _, err := tls.X509KeyPair([]byte(m.certPEM+m.chainPEM), []byte(m.keyPEM)); err != nil {
		return nil, errValidation("The private key does not match the certificate's public key.")
	}
	return m, nil
}

// parseCertificates parses the PEM CERTIFICATE blocks of in; field names
// the member in errors.
func parseCertificates(in []byte, field string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := in; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, errValidation("The %s contains a PEM block of type %q; it must contain only CERTIFICATE blocks.", field, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, errValidation("Unable to parse the %s: %s.", field, strings.TrimPrefix(err.Error(), "x509: "))
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errValidation("Unable to parse the %s: it must be PEM-encoded (-----BEGIN CERTIFICATE-----).", field)
	}
	return certs, nil
}

// encodeCertificates returns the certificates as PEM blocks, in order.
func encodeCertificates(certs []*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

// parsePrivateKey returns the one private key block of in, checked to
// parse, without headers. An EC PARAMETERS block (openssl ecparam
// -genkey writes one) is skipped.
func parsePrivateKey(in []byte) (*pem.Block, error) {
	var key *pem.Block
	for rest := in; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "EC PARAMETERS":
			continue
		case b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "":
			return nil, errValidation("The private key is encrypted; import it unencrypted.")
		case b.Type != "RSA PRIVATE KEY" && b.Type != "PRIVATE KEY" && b.Type != "EC PRIVATE KEY":
			return nil, errValidation("The private key contains a PEM block of type %q; it must be one RSA PRIVATE KEY (PKCS#1), PRIVATE KEY (PKCS#8) or EC PRIVATE KEY block.", b.Type)
		case key != nil:
			return nil, errValidation("The private key field contains more than one key.")
		}
		key = b
	}
	if key == nil {
		return nil, errValidation("Unable to parse the private key: it must be PEM-encoded (-----BEGIN PRIVATE KEY-----).")
	}
	var err error
	switch key.Type {
	case "RSA PRIVATE KEY":
		_, err = x509.ParsePKCS1PrivateKey(key.Bytes)
	case "PRIVATE KEY":
		_, err = x509.ParsePKCS8PrivateKey(key.Bytes)
	case "EC PRIVATE KEY":
		_, err = x509.ParseECPrivateKey(key.Bytes)
	}
	if err != nil {
		return nil, errValidation("Unable to parse the private key: %s.", strings.TrimPrefix(err.Error(), "x509: "))
	}
	return &pem.Block{Type: key.Type, Bytes: key.Bytes}, nil
}

// parseLeaf parses a record's certificate.
func parseLeaf(certPEM string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		return nil, fmt.Errorf("stored certificate is not PEM")
	}
	return x509.ParseCertificate(b.Bytes)
}

// keyAlgorithm returns ACM's name of the certificate's key type and size,
// and whether ACM supports it.
func keyAlgorithm(c *x509.Certificate) (wire.KeyAlgorithm, bool) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 1024:
			return wire.KeyAlgorithmRsa1024, true
		case 2048:
			return wire.KeyAlgorithmRsa2048, true
		case 3072:
			return wire.KeyAlgorithmRsa3072, true
		case 4096:
			return wire.KeyAlgorithmRsa4096, true
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return wire.KeyAlgorithmEcPrime256v1, true
		case elliptic.P384():
			return wire.KeyAlgorithmEcSecp384r1, true
		case elliptic.P521():
			return wire.KeyAlgorithmEcSecp521r1, true
		}
	}
	return "", false
}

// publicKeyDescription names the type and size of a certificate's key,
// for errors.
func publicKeyDescription(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA, %d bits", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA on " + k.Curve.Params().Name
	}
	return c.PublicKeyAlgorithm.String()
}

// domainName is ACM's DomainName of a certificate: the subject's common
// name, else the first subject alternative name; "" when it has neither.
func domainName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	if sans := subjectAlternativeNames(c); len(sans) > 0 {
		return sans[0]
	}
	return ""
}

// subjectAlternativeNames returns the certificate's DNS names and IP
// addresses; the common name alone when it has none.
func subjectAlternativeNames(c *x509.Certificate) []string {
	sans := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	if len(sans) == 0 && c.Subject.CommonName != "" {
		sans = []string{c.Subject.CommonName}
	}
	return sans
}

// serial formats a serial number as ACM does: its bytes in lowercase hex,
// separated by colons.
func serial(c *x509.Certificate) string {
	b := c.SerialNumber.Bytes()
	if len(b) == 0 {
		return "00"
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

// signatureAlgorithms are ACM's names of the signature algorithms.
var signatureAlgorithms = map[x509.SignatureAlgorithm]string{
	x509.MD5WithRSA:       "MD5WITHRSA",
	x509.SHA1WithRSA:      "SHA1WITHRSA",
	x509.SHA256WithRSA:    "SHA256WITHRSA",
	x509.SHA384WithRSA:    "SHA384WITHRSA",
	x509.SHA512WithRSA:    "SHA512WITHRSA",
	x509.SHA256WithRSAPSS: "SHA256WITHRSAANDMGF1",
	x509.SHA384WithRSAPSS: "SHA384WITHRSAANDMGF1",
	x509.SHA512WithRSAPSS: "SHA512WITHRSAANDMGF1",
	x509.ECDSAWithSHA1:    "SHA1WITHECDSA",
	x509.ECDSAWithSHA256:  "SHA256WITHECDSA",
	x509.ECDSAWithSHA384:  "SHA384WITHECDSA",
	x509.ECDSAWithSHA512:  "SHA512WITHECDSA",
}

// signatureAlgorithm is ACM's name of the certificate's signature
// algorithm, Go's in upper case when ACM's is not known.
func signatureAlgorithm(c *x509.Certificate) string {
	if name, ok := signatureAlgorithms[c.SignatureAlgorithm]; ok {
		return name
	}
	return strings.ToUpper(c.SignatureAlgorithm.String())
}

// keyUsageNames are ACM's names of the key usage bits, in bit order.
var keyUsageNames = []struct {
	bit  x509.KeyUsage
	name wire.KeyUsageName
}{
	{x509.KeyUsageDigitalSignature, wire.KeyUsageNameDigitalSignature},
	{x509.KeyUsageContentCommitment, wire.KeyUsageNameNonRepudiation},
	{x509.KeyUsageKeyEncipherment, wire.KeyUsageNameKeyEncipherment},
	{x509.KeyUsageDataEncipherment, wire.KeyUsageNameDataEncipherment},
	{x509.KeyUsageKeyAgreement, wire.KeyUsageNameKeyAgreement},
	{x509.KeyUsageCertSign, wire.KeyUsageNameCertificateSigning},
	{x509.KeyUsageCRLSign, wire.KeyUsageNameCrlSigning},
	{x509.KeyUsageEncipherOnly, wire.KeyUsageNameEncipherOnly},
	{x509.KeyUsageDecipherOnly, wire.KeyUsageNameDecipherOnly},
}

// keyUsages returns ACM's names of the certificate's key usages.
func keyUsages(c *x509.Certificate) []wire.KeyUsageName {
	var names []wire.KeyUsageName
	for _, u := range keyUsageNames {
		if c.KeyUsage&u.bit != 0 {
			names = append(names, u.name)
		}
	}
	return names
}

// extKeyUsages are ACM's names and the OIDs of the extended key usages.
var extKeyUsages = map[x509.ExtKeyUsage]struct {
	name wire.ExtendedKeyUsageName
	oid  string
}{
	x509.ExtKeyUsageServerAuth:      {wire.ExtendedKeyUsageNameTlsWebServerAuthentication, "1.3.6.1.5.5.7.3.1"},
	x509.ExtKeyUsageClientAuth:      {wire.ExtendedKeyUsageNameTlsWebClientAuthentication, "1.3.6.1.5.5.7.3.2"},
	x509.ExtKeyUsageCodeSigning:     {wire.ExtendedKeyUsageNameCodeSigning, "1.3.6.1.5.5.7.3.3"},
	x509.ExtKeyUsageEmailProtection: {wire.ExtendedKeyUsageNameEmailProtection, "1.3.6.1.5.5.7.3.4"},
	x509.ExtKeyUsageIPSECEndSystem:  {wire.ExtendedKeyUsageNameIpsecEndSystem, "1.3.6.1.5.5.7.3.5"},
	x509.ExtKeyUsageIPSECTunnel:     {wire.ExtendedKeyUsageNameIpsecTunnel, "1.3.6.1.5.5.7.3.6"},
	x509.ExtKeyUsageIPSECUser:       {wire.ExtendedKeyUsageNameIpsecUser, "1.3.6.1.5.5.7.3.7"},
	x509.ExtKeyUsageTimeStamping:    {wire.ExtendedKeyUsageNameTimeStamping, "1.3.6.1.5.5.7.3.8"},
	x509.ExtKeyUsageOCSPSigning:     {wire.ExtendedKeyUsageNameOcspSigning, "1.3.6.1.5.5.7.3.9"},
	x509.ExtKeyUsageAny:             {wire.ExtendedKeyUsageNameAny, "2.5.29.37.0"},
}

// extendedKeyUsages returns the certificate's extended key usages, those
// ACM has no name for as CUSTOM with their OID.
func extendedKeyUsages(c *x509.Certificate) []wire.ExtendedKeyUsage {
	var out []wire.ExtendedKeyUsage
	for _, u := range c.ExtKeyUsage {
		if e, ok := extKeyUsages[u]; ok {
			out = append(out, wire.ExtendedKeyUsage{Name: e.name, OID: ptr.To(e.oid)})
		}
	}
	for _, oid := range c.UnknownExtKeyUsage {
		out = append(out, wire.ExtendedKeyUsage{Name: wire.ExtendedKeyUsageNameCustom, OID: ptr.To(oid.String())})
	}
	return out
}
