// Package cert holds the certificates that ACM imports as Flotilla stores
// them: the record, its store keys, and the reads and guards the other
// services (the load balancer's HTTPS listeners) use. It has no wire
// types; internal/api/acm serves the ACM operations over it.
package cert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flotilla/flotilla/internal/store"
)

// RecordPrefix is the key prefix of the certificates in the store: a
// certificate is at RecordPrefix + the ID that ends its ARN (Key). Watch it
// to learn of imports, re-imports and deletes; Lookup reads a certificate.
// It has no leading slash, as the first release wrote it.
const RecordPrefix = "acm/certificate/"

// UsePrefix holds a key per certificate that the services using
// certificates write whenever a resource of theirs takes one, in the same
// transaction (Guard); DeleteCertificate's transaction compares it, so
// that it fails when the certificate came into use after it looked.
const UsePrefix = "acm/use/"

// Key is the store key of the certificate with the given ID.
func Key(id string) string { return RecordPrefix + id }

// UseKey is the key under UsePrefix of the certificate with the given ID.
func UseKey(id string) string { return UsePrefix + id }

// ErrNotFound is what Lookup's error wraps when there is no certificate
// with the ARN.
var ErrNotFound = errors.New("acm: certificate not found")

// Record is an imported certificate, at Key(its ID). The PEM is the
// material as ImportCertificate checked and normalized it: one CERTIFICATE
// block, the chain's CERTIFICATE blocks, one unencrypted private key
// block. Material and metadata are one value, so a write never leaves one
// without the other.
type Record struct {
	ARN            string `json:"arn"`
	CertificatePEM string `json:"certificatePem"`
	ChainPEM       string `json:"chainPem,omitempty"`
	PrivateKeyPEM  string `json:"privateKeyPem"`
	Tags           []Tag  `json:"tags,omitempty"`
	// CreatedAt is the time of the first import, ImportedAt of the last.
	CreatedAt  time.Time `json:"createdAt"`
	ImportedAt time.Time `json:"importedAt"`
}

// Tag is a certificate's tag. ACM's tags may have no value, which
// ListTagsForCertificate gives back as such: hence not flotilla.Tag, whose
// rules (MaxTags, ReservedTagKey) it follows.
type Tag struct {
	Key   string  `json:"key"`
	Value *string `json:"value,omitempty"`
}

// ParseARN returns the ID of a certificate ARN,
// arn:<partition>:acm:<region>:<account>:certificate/<id>, and whether arn
// has that form.
func ParseARN(arn string) (id string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "acm" || !digits(parts[4]) {
		return "", false
	}
	id, ok = strings.CutPrefix(parts[5], "certificate/")
	if !ok || id == "" || len(id) > 128 || strings.Trim(id, "0123456789abcdefABCDEF-") != "" {
		return "", false
	}
	return id, true
}

// digits reports whether s is a non-empty string of decimal digits.
func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// Lookup returns the PEM material of the certificate that arn names: the
// certificate, its chain (empty when it was imported without one) and its
// private key, unencrypted. The error wraps ErrNotFound when there is no
// such certificate, a malformed arn included, and the store's errors
// otherwise.
func Lookup(ctx context.Context, st store.Store, arn string) (certPEM, chainPEM, keyPEM []byte, err error) {
	rec, _, err := Get(ctx, st, arn)
	if err != nil {
		return nil, nil, nil, err
	}
	return []byte(rec.CertificatePEM), []byte(rec.ChainPEM), []byte(rec.PrivateKeyPEM), nil
}

// Get reads the certificate that arn names, with its key's revision for a
// compare-and-swap. The record's ARN must be arn (the certificate is of
// this region and account). Errors are Lookup's.
func Get(ctx context.Context, st store.Store, arn string) (*Record, int64, error) {
	id, ok := ParseARN(arn)
	if !ok {
		return nil, 0, fmt.Errorf("certificate %s: %w", arn, ErrNotFound)
	}
	rec, rev, err := store.GetJSON[Record](ctx, st, Key(id))
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.ARN != arn) {
		return nil, 0, fmt.Errorf("certificate %s: %w", arn, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read certificate %s: %w", arn, err)
	}
	return rec, rev, nil
}

// Guard returns what a transaction that makes a resource use the
// certificate arn must hold and write: a comparison that fails if the
// certificate is deleted or re-imported before it commits, and a write
// that fails a DeleteCertificate that found the certificate unused. The
// error wraps ErrNotFound when there is no such certificate.
func Guard(ctx context.Context, st store.Store, arn string) (store.Compare, store.Op, error) {
	_, rev, err := Get(ctx, st, arn)
	if err != nil {
		return store.Compare{}, store.Op{}, err
	}
	id, _ := ParseARN(arn)
	return store.Compare{Key: Key(id), ModRevision: rev}, store.Op{Key: UseKey(id), Value: []byte(arn)}, nil
}
