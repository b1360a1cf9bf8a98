package acm

import (
	"context"
	"regexp"
	"slices"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/api"
	"github.com/flotilla/flotilla/internal/cert"
	"github.com/flotilla/flotilla/internal/model"
	wire "github.com/flotilla/flotilla/internal/model/acm"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// tagPattern is the model's pattern of tag keys and values, which the
// generated Validate does not check (the model's is unanchored).
var tagPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// AddTagsToCertificate adds tags to a certificate, replacing the values of
// the keys it has.
func (s *Service) AddTagsToCertificate(ctx context.Context, in *wire.AddTagsToCertificateRequest) (*wire.AddTagsToCertificateOutput, error) {
	if err := checkTags(in.Tags, "Tags"); err != nil {
		return nil, err
	}
	err := s.changeTags(ctx, ptr.Deref(in.CertificateArn), func(have []cert.Tag) ([]cert.Tag, error) {
		return mergeTags(have, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &wire.AddTagsToCertificateOutput{}, nil
}

// RemoveTagsFromCertificate removes tags from a certificate: a tag given
// with a value only when the certificate's has that value, a tag given
// without one whatever its value.
func (s *Service) RemoveTagsFromCertificate(ctx context.Context, in *wire.RemoveTagsFromCertificateRequest) (*wire.RemoveTagsFromCertificateOutput, error) {
	if err := checkTags(in.Tags, "Tags"); err != nil {
		return nil, err
	}
	err := s.changeTags(ctx, ptr.Deref(in.CertificateArn), func(have []cert.Tag) ([]cert.Tag, error) {
		return slices.DeleteFunc(have, func(t cert.Tag) bool {
			return slices.ContainsFunc(in.Tags, func(r wire.Tag) bool {
				return ptr.Deref(r.Key) == t.Key && (r.Value == nil || (t.Value != nil && *r.Value == *t.Value))
			})
		}), nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.RemoveTagsFromCertificateOutput{}, nil
}

// ListTagsForCertificate lists a certificate's tags.
func (s *Service) ListTagsForCertificate(ctx context.Context, in *wire.ListTagsForCertificateRequest) (*wire.ListTagsForCertificateResponse, error) {
	rec, _, err := s.get(ctx, ptr.Deref(in.CertificateArn))
	if err != nil {
		return nil, err
	}
	out := &wire.ListTagsForCertificateResponse{}
	for _, t := range rec.Tags {
		out.Tags = append(out.Tags, wire.Tag{Key: ptr.To(t.Key), Value: t.Value})
	}
	return out, nil
}

// changeTags replaces the tags of the certificate arn with what change
// makes of them, in one compare-and-swap.
func (s *Service) changeTags(ctx context.Context, arn string, change func([]cert.Tag) ([]cert.Tag, error)) error {
	id, ok := cert.ParseARN(arn)
	if !ok {
		return errInvalidARN(arn)
	}
	_, _, err := store.Update(ctx, s.store, cert.Key(id), func(cur *cert.Record) (*cert.Record, error) {
		if cur == nil || cur.ARN != arn {
			return nil, errNotFound(arn)
		}
		tags, err := change(slices.Clone(cur.Tags))
		if err != nil {
			return nil, err
		}
		cur.Tags = tags
		return cur, nil
	})
	return err
}

// checkTags checks what the model's Validate does not: the keys' and
// values' characters, and that no key has the prefix "aws:", which AWS
// reserves.
func checkTags(tags []wire.Tag, path string) error {
	var ve model.ValidationError
	for i, t := range tags {
		p := model.IndexPath(path, i)
		if !tagPattern.MatchString(ptr.Deref(t.Key)) {
			ve.Add(model.JoinPath(p, "Key"), "must satisfy the pattern "+tagPattern.String())
		}
		if !tagPattern.MatchString(ptr.Deref(t.Value)) {
			ve.Add(model.JoinPath(p, "Value"), "must satisfy the pattern "+tagPattern.String())
		}
	}
	if err := ve.Err(); err != nil {
		return err
	}
	for _, t := range tags {
		if flotilla.ReservedTagKey(ptr.Deref(t.Key)) {
			return api.Errorf(codeInvalidTag, "Tag key '%s' is invalid: the prefix 'aws:' is reserved for AWS use.", ptr.Deref(t.Key))
		}
	}
	return nil
}

// mergeTags returns have with add's tags (checked with checkTags) added, a key's value replaced
// when have has the key; TooManyTagsException when that makes more than
// flotilla.MaxTags.
func mergeTags(have []cert.Tag, add []wire.Tag) ([]cert.Tag, error) {
	out := slices.Clone(have)
	for _, a := range add {
		t := cert.Tag{Key: ptr.Deref(a.Key), Value: a.Value}
		if i := slices.IndexFunc(out, func(h cert.Tag) bool { return h.Key == t.Key }); i >= 0 {
			out[i] = t
		} else {
			out = append(out, t)
		}
	}
	if len(out) > flotilla.MaxTags {
		return nil, api.Errorf(codeTooManyTags, "The certificate would have %d tags; a certificate can have at most %d.", len(out), flotilla.MaxTags)
	}
	return out, nil
}
