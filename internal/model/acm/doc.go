// Package acm holds the wire types of AWS Certificate Manager's JSON API
// (CertificateManager, 2015-12-08), generated from the service model: a
// struct per structure shape (ImportCertificateRequest, CertificateDetail,
// CertificateSummary...), a string type per enum (CertificateStatus,
// KeyAlgorithm), a type per error (ResourceNotFoundException), Validate
// methods that check requests against the model's constraints, and the
// Operations table.
//
// Members are pointers, or nil-able slices and maps, or enums whose empty
// string means absent, so that an absent member differs from a zero one.
// Blobs (the certificate, its chain, the private key) are []byte, which
// encoding/json reads and writes as base64, as the wire has them.
//
// The model is aws-sdk-go's api-2.json; see internal/model/gen.
package acm

//go:generate go run ../gen -service acm -sdk-version v1.55.8 -always always.json
