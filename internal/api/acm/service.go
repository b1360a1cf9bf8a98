// Package acm serves the part of AWS Certificate Manager's JSON 1.1 API
// (CertificateManager, 2015-12-08) that imported certificates need:
// ImportCertificate (and re-import), DescribeCertificate, GetCertificate,
// ListCertificates, DeleteCertificate and the tag operations. A certificate
// is one store record holding its PEM material (cert.Record); HTTPS
// listeners of the load balancer name it by ARN and read it with
// cert.Lookup. Each handler validates its input, does at most one store
// transaction, and returns. Wire types come from the generated
// internal/model/acm package.
//
// Flotilla issues no certificates: RequestCertificate, RenewCertificate,
// ExportCertificate and the account configuration are not served, and
// answer UnknownOperationException.
package acm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	wire "github.com/flotilla/flotilla/internal/model/acm"
	"github.com/flotilla/flotilla/internal/store"
)

// Config is what the ACM service needs.
type Config struct {
	Store     store.Store
	Region    string
	AccountID string
	// InUse returns, by certificate ARN, the ARNs of the resources (load
	// balancers) that use each certificate in use: for
	// DescribeCertificate's InUseBy, ListCertificates' InUse, and to refuse
	// DeleteCertificate of a certificate in use. One call answers for every
	// certificate, so that a page of ListCertificates reads the users once.
	// When nil, no certificate is in use.
	InUse func(ctx context.Context) (map[string][]string, error)
	// Clock returns the current time; time.Now when nil.
	Clock func() time.Time
}

// Service implements the ACM operations.
type Service struct {
	store  store.Store
	region string
	acct   string
	inUse  func(context.Context) (map[string][]string, error)
	now    func() time.Time
}

// New returns the ACM service over cfg.Store.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, region: cfg.Region, acct: cfg.AccountID, inUse: cfg.InUse, now: cfg.Clock}
	if s.now == nil {
		s.now = time.Now
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.acct == "" {
		s.acct = "000000000000"
	}
	return s
}

// JSONService returns the operation table to register with the API server.
func (s *Service) JSONService() api.JSONService {
	return api.JSONService{
		TargetPrefix: wire.TargetPrefix,
		SigningName:  wire.SigningName,
		Refused:      refused,
		Operations: map[string]api.Operation{
			"ImportCertificate":         api.JSON(s.ImportCertificate),
			"DescribeCertificate":       api.JSON(s.DescribeCertificate),
			"GetCertificate":            api.JSON(s.GetCertificate),
			"ListCertificates":          api.JSON(s.ListCertificates),
			"DeleteCertificate":         api.JSON(s.DeleteCertificate),
			"AddTagsToCertificate":      api.JSON(s.AddTagsToCertificate),
			"RemoveTagsFromCertificate": api.JSON(s.RemoveTagsFromCertificate),
			"ListTagsForCertificate":    api.JSON(s.ListTagsForCertificate),
		},
		ValidationErrorCode: codeValidation,
		MapError:            mapError,
	}
}

// mapError is the service's error table for errors that are not already
// *api.Error: a store conflict that outlasted every retry is ACM's
// ConflictException; anything else is unmapped.
func mapError(err error) *api.Error {
	if errors.Is(err, store.ErrConflict) {
		return api.Errorf(codeConflict, "A concurrent request changed the certificate; retry the request.")
	}
	return nil
}

// users returns the ARNs of the resources that use each certificate in
// use, by certificate ARN.
func (s *Service) users(ctx context.Context) (map[string][]string, error) {
	if s.inUse == nil {
		return nil, nil
	}
	users, err := s.inUse(ctx)
	if err != nil {
		return nil, fmt.Errorf("resources using certificates: %w", err)
	}
	return users, nil
}

// certificateARN returns the ARN of the certificate with the given ID.
func (s *Service) certificateARN(id string) string {
	return flotilla.Account{Region: s.region, ID: s.acct}.ARNOf("acm", "certificate/"+id)
}

// newID returns a random (version 4) UUID, the last part of ACM's ARNs.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
