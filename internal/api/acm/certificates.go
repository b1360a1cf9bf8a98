package acm

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/cert"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/acm"
	"github.com/flotilla/flotilla/internal/paging"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// ImportCertificate imports a certificate with its private key and
// optional chain, or, when CertificateArn is set, re-imports it: the ARN,
// the tags and CreatedAt stay, the material is replaced, and the key type
// and size must not change. Tags are for new imports only.
func (s *Service) ImportCertificate(ctx context.Context, in *wire.ImportCertificateRequest) (*wire.ImportCertificateResponse, error) {
	reimport := in.CertificateArn != nil
	if reimport {
		if _, ok := cert.ParseARN(*in.CertificateArn); !ok {
			return nil, errInvalidARN(*in.CertificateArn)
		}
		if in.Tags != nil {
			return nil, errValidation("Tagging is not permitted on re-import.")
		}
	}
	if err := checkTags(in.Tags, "Tags"); err != nil {
		return nil, err
	}
	tags, err := mergeTags(nil, in.Tags)
	if err != nil {
		return nil, err
	}
	now := s.now()
	m, err := parseMaterial(in.Certificate, in.CertificateChain, in.PrivateKey, now)
	if err != nil {
		return nil, err
	}
	if reimport {
		return s.reimport(ctx, *in.CertificateArn, m, now)
	}
	id := newID()
	rec := &cert.Record{
		ARN:            s.certificateARN(id),
		CertificatePEM: m.certPEM,
		ChainPEM:       m.chainPEM,
		PrivateKeyPEM:  m.keyPEM,
		Tags:           tags,
		CreatedAt:      now,
		ImportedAt:     now,
	}
	if _, err := store.CreateJSON(ctx, s.store, cert.Key(id), rec); err != nil {
		return nil, fmt.Errorf("import certificate %s: %w", rec.ARN, err)
	}
	return &wire.ImportCertificateResponse{CertificateArn: &rec.ARN}, nil
}

// reimport replaces the material of the certificate arn with m.
func (s *Service) reimport(ctx context.Context, arn string, m *material, now time.Time) (*wire.ImportCertificateResponse, error) {
	id, _ := cert.ParseARN(arn)
	_, _, err := store.Update(ctx, s.store, cert.Key(id), func(cur *cert.Record) (*cert.Record, error) {
		if cur == nil || cur.ARN != arn {
			return nil, errNotFound(arn)
		}
		old, err := parseLeaf(cur.CertificatePEM)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", arn, err)
		}
		if alg, _ := keyAlgorithm(old); alg != m.keyAlg {
			return nil, errValidation("The key type and size cannot change on re-import: the certificate's key is %s, the new certificate's %s.", alg, m.keyAlg)
		}
		next := *cur
		next.CertificatePEM, next.ChainPEM, next.PrivateKeyPEM = m.certPEM, m.chainPEM, m.keyPEM
		next.ImportedAt = now
		return &next, nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.ImportCertificateResponse{CertificateArn: &arn}, nil
}

// DescribeCertificate describes a certificate from its X.509 fields, with
// the resources that use it.
func (s *Service) DescribeCertificate(ctx context.Context, in *wire.DescribeCertificateRequest) (*wire.DescribeCertificateResponse, error) {
	rec, _, err := s.get(ctx, ptr.Deref(in.CertificateArn))
	if err != nil {
		return nil, err
	}
	leaf, err := parseLeaf(rec.CertificatePEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", rec.ARN, err)
	}
	users, err := s.users(ctx)
	if err != nil {
		return nil, err
	}
	alg, _ := keyAlgorithm(leaf)
	d := &wire.CertificateDetail{
		CertificateArn:          &rec.ARN,
		DomainName:              ptr.To(domainName(leaf)),
		SubjectAlternativeNames: subjectAlternativeNames(leaf),
		Subject:                 ptr.To(leaf.Subject.String()),
		Issuer:                  ptr.To(leaf.Issuer.String()),
		Serial:                  ptr.To(serial(leaf)),
		NotBefore:               model.NewTime(leaf.NotBefore),
		NotAfter:                model.NewTime(leaf.NotAfter),
		KeyAlgorithm:            alg,
		SignatureAlgorithm:      ptr.To(signatureAlgorithm(leaf)),
		ExtendedKeyUsages:       extendedKeyUsages(leaf),
		Type:                    wire.CertificateTypeImported,
		Status:                  status(leaf, s.now()),
		RenewalEligibility:      wire.RenewalEligibilityIneligible,
		CreatedAt:               model.NewTime(rec.CreatedAt),
		ImportedAt:              model.NewTime(rec.ImportedAt),
		InUseBy:                 users[rec.ARN],
	}
	for _, u := range keyUsages(leaf) {
		d.KeyUsages = append(d.KeyUsages, wire.KeyUsage{Name: u})
	}
	return &wire.DescribeCertificateResponse{Certificate: d}, nil
}

// GetCertificate returns a certificate and its chain, PEM-encoded; never
// the private key.
func (s *Service) GetCertificate(ctx context.Context, in *wire.GetCertificateRequest) (*wire.GetCertificateResponse, error) {
	rec, _, err := s.get(ctx, ptr.Deref(in.CertificateArn))
	if err != nil {
		return nil, err
	}
	out := &wire.GetCertificateResponse{Certificate: &rec.CertificatePEM}
	if rec.ChainPEM != "" {
		out.CertificateChain = &rec.ChainPEM
	}
	return out, nil
}

// DeleteCertificate deletes a certificate that no resource uses. The check
// and the delete are not one transaction with the users' writes: a
// listener created meanwhile finds the certificate gone (cert.Lookup's
// ErrNotFound).
func (s *Service) DeleteCertificate(ctx context.Context, in *wire.DeleteCertificateRequest) (*wire.DeleteCertificateOutput, error) {
	arn := ptr.Deref(in.CertificateArn)
	for range store.UpdateAttempts {
		_, rev, err := s.get(ctx, arn)
		if err != nil {
			return nil, err
		}
		// The use key is read before the users: a resource that takes the
		// certificate after this read changes it, and the delete fails.
		id, _ := cert.ParseARN(arn)
		var useRev int64
		switch kv, err := s.store.Get(ctx, cert.UseKey(id)); {
		case err == nil:
			useRev = kv.ModRevision
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		users, err := s.users(ctx)
		if err != nil {
			return nil, err
		}
		if len(users[arn]) > 0 {
			return nil, api.Errorf(codeInUse, "Certificate %s is in use by %s.", arn, strings.Join(users[arn], ", "))
		}
		_, err = s.store.Txn(ctx, store.Txn{
			Compares: []store.Compare{{Key: cert.Key(id), ModRevision: rev}, {Key: cert.UseKey(id), ModRevision: useRev}},
			Ops:      []store.Op{{Key: cert.Key(id), Delete: true}, {Key: cert.UseKey(id), Delete: true}},
		})
		if !errors.Is(err, store.ErrConflict) {
			if err != nil {
				return nil, err
			}
			return &wire.DeleteCertificateOutput{}, nil
		}
	}
	return nil, fmt.Errorf("acm: %d attempts: %w", store.UpdateAttempts, store.ErrConflict)
}

// maxListItems is ListCertificates' largest page, and its page when the
// request sets no MaxItems.
const maxListItems = 1000

// listed is a certificate of a ListCertificates answer, with the key it
// is sorted and paged by.
type listed struct {
	key  string
	rec  *cert.Record
	leaf *x509.Certificate
}

// ListCertificates lists the certificates that pass the filters, a page
// at a time: CertificateStatuses, and Includes' keyTypes, keyUsage and
// extendedKeyUsage (a certificate passes a list when it has one of its
// values). Unlike ACM, which lists only RSA_1024 and RSA_2048 certificates
// when Includes names no keyTypes, every key type is listed by default.
// The order is the ARNs' (the creation time's with SortBy CREATED_AT),
// reversed by SortOrder DESCENDING.
func (s *Service) ListCertificates(ctx context.Context, in *wire.ListCertificatesRequest) (*wire.ListCertificatesResponse, error) {
	after := ""
	if in.NextToken != nil {
		var err error
		if after, err = paging.Key(*in.NextToken); err != nil {
			return nil, api.Errorf(codeInvalidArgs, "The NextToken '%s' is not valid.", *in.NextToken)
		}
	}
	limit := maxListItems
	if in.MaxItems != nil {
		limit = int(*in.MaxItems) // the model checks 1 to 1000
	}
	items, _, err := store.ListJSON[cert.Record](ctx, s.store, cert.RecordPrefix, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	now := s.now()
	var certs []listed
	for i := range items {
		rec := &items[i].Value
		leaf, err := parseLeaf(rec.CertificatePEM)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", rec.ARN, err)
		}
		if !passes(in, leaf, now) {
			continue
		}
		key := strings.TrimPrefix(items[i].Key, cert.RecordPrefix)
		if in.SortBy == wire.SortByCreatedAt {
			key = fmt.Sprintf("%020d/%s", rec.CreatedAt.UnixNano(), key)
		}
		certs = append(certs, listed{key: key, rec: rec, leaf: leaf})
	}
	desc := in.SortOrder == wire.SortOrderDescending
	slices.SortFunc(certs, func(a, b listed) int {
		if desc {
			return cmp.Compare(b.key, a.key)
		}
		return cmp.Compare(a.key, b.key)
	})
	certs, next := paging.Page(certs, func(c listed) string { return c.key }, after, limit, desc)
	out := &wire.ListCertificatesResponse{NextToken: next}
	users, err := s.users(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		out.CertificateSummaryList = append(out.CertificateSummaryList, summary(c.rec, c.leaf, now, len(users[c.rec.ARN]) > 0))
	}
	return out, nil
}

// passes reports whether a certificate passes a ListCertificates' filters.
func passes(in *wire.ListCertificatesRequest, leaf *x509.Certificate, now time.Time) bool {
	if len(in.CertificateStatuses) > 0 && !slices.Contains(in.CertificateStatuses, status(leaf, now)) {
		return false
	}
	f := in.Includes
	if f == nil {
		return true
	}
	if alg, _ := keyAlgorithm(leaf); len(f.KeyTypes) > 0 && !slices.Contains(f.KeyTypes, alg) {
		return false
	}
	if len(f.KeyUsage) > 0 && !slices.ContainsFunc(keyUsages(leaf), func(u wire.KeyUsageName) bool { return slices.Contains(f.KeyUsage, u) }) {
		return false
	}
	if len(f.ExtendedKeyUsage) > 0 && !slices.ContainsFunc(extendedKeyUsages(leaf), func(u wire.ExtendedKeyUsage) bool { return slices.Contains(f.ExtendedKeyUsage, u.Name) }) {
		return false
	}
	return true
}

// maxNameSummaries is how many subject alternative names a summary lists.
const maxNameSummaries = 100

// summary is ListCertificates' summary of a certificate.
func summary(rec *cert.Record, leaf *x509.Certificate, now time.Time, inUse bool) wire.CertificateSummary {
	alg, _ := keyAlgorithm(leaf)
	sans := subjectAlternativeNames(leaf)
	s := wire.CertificateSummary{
		CertificateArn:                       ptr.To(rec.ARN),
		DomainName:                           ptr.To(domainName(leaf)),
		SubjectAlternativeNameSummaries:      sans[:min(len(sans), maxNameSummaries)],
		HasAdditionalSubjectAlternativeNames: ptr.To(len(sans) > maxNameSummaries),
		Status:                               status(leaf, now),
		Type:                                 wire.CertificateTypeImported,
		KeyAlgorithm:                         alg,
		KeyUsages:                            keyUsages(leaf),
		InUse:                                &inUse,
		RenewalEligibility:                   wire.RenewalEligibilityIneligible,
		NotBefore:                            model.NewTime(leaf.NotBefore),
		NotAfter:                             model.NewTime(leaf.NotAfter),
		CreatedAt:                            model.NewTime(rec.CreatedAt),
		ImportedAt:                           model.NewTime(rec.ImportedAt),
	}
	for _, u := range extendedKeyUsages(leaf) {
		s.ExtendedKeyUsages = append(s.ExtendedKeyUsages, u.Name)
	}
	return s
}

// status is an imported certificate's status: ISSUED until it expires.
func status(leaf *x509.Certificate, now time.Time) wire.CertificateStatus {
	if now.After(leaf.NotAfter) {
		return wire.CertificateStatusExpired
	}
	return wire.CertificateStatusIssued
}
