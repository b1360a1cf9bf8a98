package acm

import (
	"context"
	"errors"

	"github.com/flotilla/flotilla/internal/cert"
)

// get reads the certificate that arn names, with the key's revision for a
// compare-and-swap: InvalidArnException when arn is malformed,
// ResourceNotFoundException when there is no such certificate (in this
// region and account: the record's ARN must be arn).
func (s *Service) get(ctx context.Context, arn string) (*cert.Record, int64, error) {
	if _, ok := cert.ParseARN(arn); !ok {
		return nil, 0, errInvalidARN(arn)
	}
	rec, rev, err := cert.Get(ctx, s.store, arn)
	if errors.Is(err, cert.ErrNotFound) {
		return nil, 0, errNotFound(arn)
	}
	return rec, rev, err
}
