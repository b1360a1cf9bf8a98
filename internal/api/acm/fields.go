package acm

import "github.com/flotilla/flotilla/internal/api"

// This file is the reviewed list of what Flotilla does with every member
// of every ACM input: each is honoured (handled) or refused (refused), so
// that no field is accepted and then silently dropped. A member that the
// model gains is on neither list and fails TestFieldCoverage until someone
// decides. Refusals are answered ValidationException, naming the member.

// refused lists the members Flotilla does not honour yet: none of the
// operations it serves.

var refused = api.Refusals{}

// handled lists the input members that the ACM handlers honour, every
// member of every input of the operations Flotilla serves, which
// TestFieldCoverage checks.
var handled = []string{
	"AddTagsToCertificateRequest.CertificateArn",
	"AddTagsToCertificateRequest.Tags",
	"DeleteCertificateRequest.CertificateArn",
	"DescribeCertificateRequest.CertificateArn",
	"Filters.extendedKeyUsage",
	"Filters.keyTypes",
	"Filters.keyUsage",
	"GetCertificateRequest.CertificateArn",
	"ImportCertificateRequest.Certificate",
	"ImportCertificateRequest.CertificateArn",
	"ImportCertificateRequest.CertificateChain",
	"ImportCertificateRequest.PrivateKey",
	"ImportCertificateRequest.Tags",
	"ListCertificatesRequest.CertificateStatuses",
	"ListCertificatesRequest.Includes",
	"ListCertificatesRequest.MaxItems",
	"ListCertificatesRequest.NextToken",
	"ListCertificatesRequest.SortBy",
	"ListCertificatesRequest.SortOrder",
	"ListTagsForCertificateRequest.CertificateArn",
	"RemoveTagsFromCertificateRequest.CertificateArn",
	"RemoveTagsFromCertificateRequest.Tags",
	"Tag.Key",
	"Tag.Value",
}
