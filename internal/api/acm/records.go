package acm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flotilla/flotilla/internal/store"
)

// RecordPrefix is the key prefix of the certificates in the store: a
// certificate is at RecordPrefix + the ID that ends its ARN. Watch it to
// learn of imports, re-imports and deletes; Lookup reads a certificate.
const RecordPrefix = "acm/certificate/"

// ErrNotFound is what Lookup's error wraps when there is no certificate
// with the ARN.
var ErrNotFound = errors.New("acm: certificate not found")

// record is an imported certificate, at RecordPrefix + its ID. The PEM is
// the material as ImportCertificate checked and normalized it: one
// CERTIFICATE block, the chain's CERTIFICATE blocks, one unencrypted
// private key block. Material and metadata are one value, so a write never
// leaves one without the other.
type record struct {
	ARN            string `json:"arn"`
	CertificatePEM string `json:"certificatePem"`
	ChainPEM       string `json:"chainPem,omitempty"`
	PrivateKeyPEM  string `json:"privateKeyPem"`
	Tags           []tag  `json:"tags,omitempty"`
	// CreatedAt is the time of the first import, ImportedAt of the last.
	CreatedAt  time.Time `json:"createdAt"`
	ImportedAt time.Time `json:"importedAt"`
}

// tag is a certificate's tag. ACM's tags may have no value, which
// ListTagsForCertificate gives back as such: hence not flotilla.Tag, whose
// rules (MaxTags, ReservedTagKey) it follows.
type tag struct {
	Key   string  `json:"key"`
	Value *string `json:"value,omitempty"`
}

// parseARN returns the ID of a certificate ARN,
// arn:<partition>:acm:<region>:<account>:certificate/<id>, and whether arn
// has that form.
func parseARN(arn string) (id string, ok bool) {
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

// get reads the certificate that arn names, with the key's revision for a
// compare-and-swap: InvalidArnException when arn is malformed,
// ResourceNotFoundException when there is no such certificate (in this
// region and account: the record's ARN must be arn).
func (s *Service) get(ctx context.Context, arn string) (*record, int64, error) {
	id, ok := parseARN(arn)
	if !ok {
		return nil, 0, errInvalidARN(arn)
	}
	rec, rev, err := store.GetJSON[record](ctx, s.store, RecordPrefix+id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.ARN != arn) {
		return nil, 0, errNotFound(arn)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read certificate %s: %w", arn, err)
	}
	return rec, rev, nil
}

// Lookup returns the PEM material of the certificate that arn names: the
// certificate, its chain (empty when it was imported without one) and its
// private key, unencrypted. The error wraps ErrNotFound when there is no
// such certificate, a malformed arn included, and the store's errors
// otherwise.
func Lookup(ctx context.Context, st store.Store, arn string) (certPEM, chainPEM, keyPEM []byte, err error) {
	rec, _, err := lookup(ctx, st, arn)
	if err != nil {
		return nil, nil, nil, err
	}
	return []byte(rec.CertificatePEM), []byte(rec.ChainPEM), []byte(rec.PrivateKeyPEM), nil
}

// lookup reads the certificate that arn names, with its key's revision,
// for the other services: errors as Lookup's.
func lookup(ctx context.Context, st store.Store, arn string) (*record, int64, error) {
	id, ok := parseARN(arn)
	if !ok {
		return nil, 0, fmt.Errorf("certificate %s: %w", arn, ErrNotFound)
	}
	rec, rev, err := store.GetJSON[record](ctx, st, RecordPrefix+id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.ARN != arn) {
		return nil, 0, fmt.Errorf("certificate %s: %w", arn, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read certificate %s: %w", arn, err)
	}
	return rec, rev, nil
}

// usePrefix holds a key per certificate that the services using
// certificates write whenever a resource of theirs takes one, in the same
// transaction (Guard); DeleteCertificate's transaction compares it, so
// that it fails when the certificate came into use after it looked.
const usePrefix = "acm/use/"

// Guard returns what a transaction that makes a resource use the
// certificate arn must hold and write: a comparison that fails if the
// certificate is deleted or re-imported before it commits, and a write
// that fails a DeleteCertificate that found the certificate unused. The
// error wraps ErrNotFound when there is no such certificate.
func Guard(ctx context.Context, st store.Store, arn string) (store.Compare, store.Op, error) {
	_, rev, err := lookup(ctx, st, arn)
	if err != nil {
		return store.Compare{}, store.Op{}, err
	}
	id, _ := parseARN(arn)
	return store.Compare{Key: RecordPrefix + id, ModRevision: rev}, store.Op{Key: usePrefix + id, Value: []byte(arn)}, nil
}
