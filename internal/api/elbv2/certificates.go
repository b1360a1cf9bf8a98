package elbv2

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/flotilla/flotilla/internal/cert"
	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	wire "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// HTTPS listeners present certificates imported into ACM (internal/api/acm),
// named by their ARNs: the listener's default one, given when it is created
// or modified, first, then those added with AddListenerCertificates, which
// the data plane chooses among by SNI. BuildConfig sends their material to
// the data plane with the configuration.

// maxListenerCertificates is ELBv2's default quota of certificates per
// listener besides the default one.
const maxListenerCertificates = 25

// listenerTLSInput are the TLS settings CreateListener or ModifyListener
// is given.
type listenerTLSInput struct {
	certs     []wire.Certificate
	sslPolicy *string
	alpn      []string
	mtls      *wire.MutualAuthenticationAttributes
}

// listenerTLSSettings are the TLS settings of a listener.
type listenerTLSSettings struct {
	certs  []lb.Certificate
	policy string
}

// listenerTLS checks the TLS settings given for a listener of protocol
// proto, and returns its settings: those of rec (nil for a new listener)
// with the given ones applied. An HTTP listener has none; an HTTPS one
// needs a default certificate, which must exist in ACM.
func (s *Service) listenerTLS(ctx context.Context, proto wire.ProtocolEnum, rec *elb.ListenerRecord, in listenerTLSInput) (listenerTLSSettings, error) {
	certs, sslPolicy, alpn, mtls := in.certs, in.sslPolicy, in.alpn, in.mtls
	switch proto {
	case wire.ProtocolEnumHttp:
		switch {
		case len(certs) > 0:
			return listenerTLSSettings{}, errValidation("Certificates cannot be specified for HTTP listeners")
		case sslPolicy != nil:
			return listenerTLSSettings{}, errValidation("An SSL policy cannot be specified for HTTP listeners")
		case len(alpn) > 0:
			return listenerTLSSettings{}, errValidation("An ALPN policy can only be specified for TLS listeners")
		case mtls != nil && ptr.Deref(mtls.Mode) != "" && ptr.Deref(mtls.Mode) != "off":
			return listenerTLSSettings{}, errValidation("Mutual authentication can only be specified for HTTPS listeners")
		}
		return listenerTLSSettings{}, nil
	case wire.ProtocolEnumHttps:
	default:
		return listenerTLSSettings{}, errUnsupportedProtocol(string(proto))
	}
	switch {
	case len(alpn) > 0:
		return listenerTLSSettings{}, errValidation("An ALPN policy can only be specified for TLS listeners")
	case mtls != nil && ptr.Deref(mtls.Mode) != "" && ptr.Deref(mtls.Mode) != "off":
		return listenerTLSSettings{}, errValidation("Mutual authentication is not supported")
	case len(certs) > 1:
		return listenerTLSSettings{}, errValidation("Exactly one certificate must be specified for a listener; add others with AddListenerCertificates")
	}
	var out listenerTLSSettings
	if rec != nil && rec.Protocol == lb.ProtocolHTTPS {
		out = listenerTLSSettings{slices.Clone(rec.Certificates), rec.SSLPolicy}
	}
	if len(certs) == 1 {
		arn := ptr.Deref(certs[0].CertificateArn)
		if err := s.checkCertificate(ctx, arn); err != nil {
			return listenerTLSSettings{}, err
		}
		// The new default replaces the old one; an extra certificate that
		// becomes the default is no longer an extra one.
		var extras []lb.Certificate
		if len(out.certs) > 0 {
			extras = slices.DeleteFunc(out.certs[1:], func(c lb.Certificate) bool { return c.ARN == arn })
		}
		out.certs = append([]lb.Certificate{{ARN: arn}}, extras...)
	}
	if len(out.certs) == 0 {
		return listenerTLSSettings{}, errValidation("A certificate must be specified for HTTPS listeners")
	}
	if sslPolicy != nil {
		if _, ok := lb.LookupSSLPolicy(*sslPolicy); !ok {
			return listenerTLSSettings{}, errSSLPolicyNotFound(*sslPolicy)
		}
		out.policy = *sslPolicy
	}
	if out.policy == "" {
		out.policy = lb.DefaultSSLPolicy
	}
	return out, nil
}

// checkCertificate checks that ACM has the certificate arn:
// CertificateNotFound otherwise.
func (s *Service) checkCertificate(ctx context.Context, arn string) error {
	_, _, err := s.certificateGuard(ctx, []lb.Certificate{{ARN: arn}})
	return err
}

// certificateGuard returns what a transaction that writes a listener with
// certs must hold and write (acm.Guard): it fails if one of them is
// deleted meanwhile, and so does a DeleteCertificate of one that found it
// unused. CertificateNotFound for a certificate that is gone.
func (s *Service) certificateGuard(ctx context.Context, certs []lb.Certificate) ([]store.Compare, []store.Op, error) {
	var cmps []store.Compare
	var ops []store.Op
	for _, c := range certs {
		cmp, op, err := cert.Guard(ctx, s.store, c.ARN)
		if errors.Is(err, cert.ErrNotFound) {
			return nil, nil, errCertificateNotFound(c.ARN)
		}
		if err != nil {
			return nil, nil, err
		}
		cmps, ops = append(cmps, cmp), append(ops, op)
	}
	return cmps, ops, nil
}

// listenerTxn is the transaction that writes rec, with cmps, and guarded
// by its certificates.
func (s *Service) listenerTxn(ctx context.Context, rec *elb.ListenerRecord, cmps []store.Compare, ops ...store.Op) (store.Txn, error) {
	op, err := store.PutJSON(elb.ListenerKey(rec.ID), rec)
	if err != nil {
		return store.Txn{}, err
	}
	guardCmps, guardOps, err := s.certificateGuard(ctx, rec.Certificates)
	if err != nil {
		return store.Txn{}, err
	}
	return store.Txn{Compares: append(cmps, guardCmps...), Ops: append(append([]store.Op{op}, ops...), guardOps...)}, nil
}

func errSSLPolicyNotFound(name string) error {
	return &wire.SSLPolicyNotFoundException{Message: ptr.To(fmt.Sprintf("SSL policy '%s' not found", name))}
}

// DescribeSSLPolicies describes the predefined security policies: those
// named (SSLPolicyNotFound for a name there is none of), else all, a page
// at a time. Every policy is an application load balancer's.
func (s *Service) DescribeSSLPolicies(_ context.Context, in *wire.DescribeSSLPoliciesInput) (*wire.DescribeSSLPoliciesOutput, error) {
	if t := in.LoadBalancerType; t != "" && t != wire.LoadBalancerTypeEnumApplication {
		return &wire.DescribeSSLPoliciesOutput{SslPolicies: []wire.SslPolicy{}}, nil
	}
	policies := lb.SSLPolicies()
	if len(in.Names) > 0 {
		policies = policies[:0:0]
		for _, name := range in.Names {
			p, ok := lb.LookupSSLPolicy(name)
			if !ok {
				return nil, errSSLPolicyNotFound(name)
			}
			policies = append(policies, p)
		}
	}
	all := make([]keyed[wire.SslPolicy], len(policies))
	for i, p := range policies {
		ciphers := make([]wire.Cipher, len(p.Ciphers))
		for j, c := range p.Ciphers {
			ciphers[j] = wire.Cipher{Name: ptr.To(c), Priority: ptr.To(int32(j + 1))}
		}
		all[i] = keyed[wire.SslPolicy]{numberKey(i), wire.SslPolicy{
			Name: ptr.To(p.Name), SslProtocols: slices.Clone(p.Protocols), Ciphers: ciphers,
			SupportedLoadBalancerTypes: []string{string(wire.LoadBalancerTypeEnumApplication)},
		}}
	}
	out, next, err := page(all, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &wire.DescribeSSLPoliciesOutput{SslPolicies: append([]wire.SslPolicy{}, out...), NextMarker: next}, nil
}

func errCertificateNotFound(arn string) error {
	return &wire.CertificateNotFoundException{Message: ptr.To(fmt.Sprintf("Certificate '%s' not found", arn))}
}

// AddListenerCertificates adds certificates to an HTTPS listener's
// certificate list, for clients that ask for their names by SNI.
func (s *Service) AddListenerCertificates(ctx context.Context, in *wire.AddListenerCertificatesInput) (*wire.AddListenerCertificatesOutput, error) {
	if len(in.Certificates) == 0 {
		return nil, errValidation("At least one certificate must be specified")
	}
	for _, c := range in.Certificates {
		if ptr.Deref(c.IsDefault) {
			return nil, errValidation("The default certificate is set with ModifyListener")
		}
		if err := s.checkCertificate(ctx, ptr.Deref(c.CertificateArn)); err != nil {
			return nil, err
		}
	}
	var added []wire.Certificate
	err := s.modifyListenerCertificates(ctx, ptr.Deref(in.ListenerArn), func(rec *elb.ListenerRecord) error {
		added = added[:0]
		for _, c := range in.Certificates {
			arn := ptr.Deref(c.CertificateArn)
			if !slices.Contains(rec.Certificates, lb.Certificate{ARN: arn}) {
				rec.Certificates = append(rec.Certificates, lb.Certificate{ARN: arn})
			}
			added = append(added, wire.Certificate{CertificateArn: ptr.To(arn), IsDefault: ptr.To(false)})
		}
		if len(rec.Certificates)-1 > maxListenerCertificates {
			return &wire.TooManyCertificatesException{Message: ptr.To(fmt.Sprintf("A listener can have at most %d certificates besides its default one", maxListenerCertificates))}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.AddListenerCertificatesOutput{Certificates: added}, nil
}

// RemoveListenerCertificates removes certificates other than the default
// from an HTTPS listener.
func (s *Service) RemoveListenerCertificates(ctx context.Context, in *wire.RemoveListenerCertificatesInput) (*wire.RemoveListenerCertificatesOutput, error) {
	if len(in.Certificates) == 0 {
		return nil, errValidation("At least one certificate must be specified")
	}
	err := s.modifyListenerCertificates(ctx, ptr.Deref(in.ListenerArn), func(rec *elb.ListenerRecord) error {
		for _, c := range in.Certificates {
			arn := ptr.Deref(c.CertificateArn)
			if ptr.Deref(c.IsDefault) || arn == rec.Certificates[0].ARN {
				return errOperationNotPermitted("The default certificate of a listener cannot be removed")
			}
			rec.Certificates = slices.DeleteFunc(rec.Certificates, func(l lb.Certificate) bool { return l.ARN == arn })
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &wire.RemoveListenerCertificatesOutput{}, nil
}

// modifyListenerCertificates applies f to the HTTPS listener arn and
// stores the result.
func (s *Service) modifyListenerCertificates(ctx context.Context, arn string, f func(rec *elb.ListenerRecord) error) error {
	return s.write(ctx, func() (store.Txn, error) {
		rec, rev, err := s.getListener(ctx, arn)
		if err != nil {
			return store.Txn{}, err
		}
		if rec.Protocol != lb.ProtocolHTTPS || len(rec.Certificates) == 0 {
			return store.Txn{}, errValidation("Listener '%s' is not an HTTPS listener", arn)
		}
		if err := f(rec); err != nil {
			return store.Txn{}, err
		}
		return s.listenerTxn(ctx, rec, []store.Compare{{Key: elb.ListenerKey(rec.ID), ModRevision: rev}})
	})
}

// DescribeListenerCertificates describes the certificates of a listener,
// the default one marked, a page at a time.
func (s *Service) DescribeListenerCertificates(ctx context.Context, in *wire.DescribeListenerCertificatesInput) (*wire.DescribeListenerCertificatesOutput, error) {
	rec, _, err := s.getListener(ctx, ptr.Deref(in.ListenerArn))
	if err != nil {
		return nil, err
	}
	all := make([]keyed[wire.Certificate], len(rec.Certificates))
	for i, c := range rec.Certificates {
		all[i] = keyed[wire.Certificate]{numberKey(i), wire.Certificate{CertificateArn: ptr.To(c.ARN), IsDefault: ptr.To(i == 0)}}
	}
	certs, next, err := page(all, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &wire.DescribeListenerCertificatesOutput{Certificates: append([]wire.Certificate{}, certs...), NextMarker: next}, nil
}

// CertificateUsers returns, by certificate ARN, the ARNs of the load
// balancers with a listener that presents the certificate
// (elb.CertificateUsers): ACM's InUseBy, and what stops DeleteCertificate.
func (s *Service) CertificateUsers(ctx context.Context) (map[string][]string, error) {
	return elb.CertificateUsers(ctx, s.store)
}

// defaultCertificateToWire returns a listener's default certificate, all
// that DescribeListeners reports of its certificates.
func defaultCertificateToWire(certs []lb.Certificate) []wire.Certificate {
	if len(certs) == 0 {
		return nil
	}
	return []wire.Certificate{{CertificateArn: ptr.To(certs[0].ARN)}}
}

// optional returns nil for "", else a pointer to s.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
