package elbv2_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	acmsdk "github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	elbdomain "github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/sdktest"
	"github.com/flotilla/flotilla/internal/testcert"
)

// importCertificate imports a new self-signed certificate for name into
// ACM and returns its ARN and PEM.
func (e *env) importCertificate(t *testing.T, name string) (arn string, certPEM []byte) {
	t.Helper()
	certPEM, keyPEM := testcert.SelfSigned(t, name)
	out := sdktest.Must(e.acm.ImportCertificate(context.Background(), &acmsdk.ImportCertificateInput{
		Certificate: certPEM, PrivateKey: keyPEM,
	}))
	return aws.ToString(out.CertificateArn), certPEM
}

// TestHTTPSListener creates, modifies and describes HTTPS listeners and
// their certificates, and checks what the data plane is sent.
func TestHTTPSListener(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	web := aws.ToString(e.createLB(t, "web").LoadBalancerArn)
	tg := aws.ToString(e.createTG(t, "blue", types.TargetTypeEnumIp).TargetGroupArn)
	site, sitePEM := e.importCertificate(t, "site.example")
	api, _ := e.importCertificate(t, "api.example")
	other, _ := e.importCertificate(t, "other.example")
	create := func(certs []types.Certificate, policy *string) (*elb.CreateListenerOutput, error) {
		return e.client.CreateListener(ctx, &elb.CreateListenerInput{
			LoadBalancerArn: aws.String(web), Protocol: types.ProtocolEnumHttps, Port: aws.Int32(443),
			Certificates: certs, SslPolicy: policy, DefaultActions: forward(tg),
		})
	}

	_, err := create(nil, nil)
	wantCode[smithy.APIError](t, err, "ValidationError")
	_, err = create([]types.Certificate{{CertificateArn: aws.String(site + "0")}}, nil)
	wantCode[*types.CertificateNotFoundException](t, err, "CertificateNotFound")
	_, err = create([]types.Certificate{{CertificateArn: aws.String(site)}}, aws.String("ELBSecurityPolicy-Made-Up-2026"))
	wantCode[*types.SSLPolicyNotFoundException](t, err, "SSLPolicyNotFound")
	_, err = create([]types.Certificate{{CertificateArn: aws.String(site)}, {CertificateArn: aws.String(api)}}, nil)
	wantCode[smithy.APIError](t, err, "ValidationError")

	l := sdktest.Must(create([]types.Certificate{{CertificateArn: aws.String(site)}}, nil)).Listeners[0]
	if l.Protocol != types.ProtocolEnumHttps || aws.ToString(l.SslPolicy) != "ELBSecurityPolicy-2016-08" ||
		len(l.Certificates) != 1 || aws.ToString(l.Certificates[0].CertificateArn) != site {
		t.Fatalf("CreateListener = %+v", l)
	}

	// Certificates for SNI, the default one apart.
	sdktest.Must(e.client.AddListenerCertificates(ctx, &elb.AddListenerCertificatesInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(api)}, {CertificateArn: aws.String(other)}}}))
	certs := func() []string {
		var arns []string
		for _, c := range sdktest.Must(e.client.DescribeListenerCertificates(ctx, &elb.DescribeListenerCertificatesInput{ListenerArn: l.ListenerArn})).Certificates {
			mark := ""
			if aws.ToBool(c.IsDefault) {
				mark = "*"
			}
			arns = append(arns, mark+aws.ToString(c.CertificateArn))
		}
		return arns
	}
	if got, want := certs(), []string{"*" + site, api, other}; !reflect.DeepEqual(got, want) {
		t.Fatalf("DescribeListenerCertificates = %v, want %v", got, want)
	}
	_, err = e.client.RemoveListenerCertificates(ctx, &elb.RemoveListenerCertificatesInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(site)}}})
	wantCode[smithy.APIError](t, err, "OperationNotPermitted")
	sdktest.Must(e.client.RemoveListenerCertificates(ctx, &elb.RemoveListenerCertificatesInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(other)}}}))

	// The data plane gets the listener's certificates with their material.
	cfg, _, err := elbdomain.BuildConfig(ctx, e.store)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Listeners[0].Certificates; !reflect.DeepEqual(got, []lb.Certificate{{ARN: site}, {ARN: api}}) {
		t.Errorf("configuration's listener certificates = %v", got)
	}
	if got := cfg.Listeners[0].SSLPolicy; got != lb.DefaultSSLPolicy {
		t.Errorf("configuration's listener policy = %q, want %s", got, lb.DefaultSSLPolicy)
	}
	if len(cfg.Certificates) != 2 || cfg.Certificates[0].ARN != site || cfg.Certificates[0].CertificatePEM != string(sitePEM) || cfg.Certificates[0].PrivateKeyPEM == "" {
		t.Errorf("configuration's certificate material = %+v", cfg.Certificates)
	}
	cfg.LoadBalancers[0].BindAddress, cfg.Listeners[0].Port = "127.0.0.1", 0 // any free port
	dp := lb.New(lb.Options{})
	defer dp.Close()
	if err := dp.Update(cfg); err != nil {
		t.Errorf("the data plane refuses the configuration: %v", err)
	}

	// ACM refuses to delete a certificate in use, and says who uses it.
	_, err = e.acm.DeleteCertificate(ctx, &acmsdk.DeleteCertificateInput{CertificateArn: aws.String(api)})
	wantCode[*acmtypes.ResourceInUseException](t, err, "ResourceInUseException")
	if d := sdktest.Must(e.acm.DescribeCertificate(ctx, &acmsdk.DescribeCertificateInput{CertificateArn: aws.String(api)})).Certificate; !reflect.DeepEqual(d.InUseBy, []string{web}) {
		t.Errorf("InUseBy = %v", d.InUseBy)
	}

	// A new default replaces the old one; the policy can change.
	l = sdktest.Must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(other)}}, SslPolicy: aws.String("ELBSecurityPolicy-TLS13-1-2-2021-06")})).Listeners[0]
	if aws.ToString(l.SslPolicy) != "ELBSecurityPolicy-TLS13-1-2-2021-06" || aws.ToString(l.Certificates[0].CertificateArn) != other {
		t.Fatalf("ModifyListener = %+v", l)
	}
	if cfg, _, err := elbdomain.BuildConfig(ctx, e.store); err != nil || cfg.Listeners[0].SSLPolicy != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
		t.Errorf("configuration's listener policy after ModifyListener = %q (%v)", cfg.Listeners[0].SSLPolicy, err)
	}
	if got, want := certs(), []string{"*" + other, api}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a new default DescribeListenerCertificates = %v, want %v", got, want)
	}
	// An extra certificate made the default is no longer an extra one.
	sdktest.Must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(api)}}}))
	if got, want := certs(), []string{"*" + api}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after an extra became the default DescribeListenerCertificates = %v, want %v", got, want)
	}

	// Back to HTTP, it has no certificates; they can go.
	l = sdktest.Must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn, Protocol: types.ProtocolEnumHttp})).Listeners[0]
	if l.Protocol != types.ProtocolEnumHttp || len(l.Certificates) != 0 || l.SslPolicy != nil {
		t.Fatalf("ModifyListener to HTTP = %+v", l)
	}
	_, err = e.client.AddListenerCertificates(ctx, &elb.AddListenerCertificatesInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(api)}}})
	wantCode[smithy.APIError](t, err, "ValidationError")
	sdktest.Must(e.acm.DeleteCertificate(ctx, &acmsdk.DeleteCertificateInput{CertificateArn: aws.String(api)}))
}

// TestDescribeSSLPolicies describes the predefined security policies: all
// of them a page at a time, named ones, and a name there is none of.
func TestDescribeSSLPolicies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var all []types.SslPolicy
	n := 0
	for in := (&elb.DescribeSSLPoliciesInput{PageSize: aws.Int32(10)}); ; n++ {
		out := sdktest.Must(e.client.DescribeSSLPolicies(ctx, in))
		all = append(all, out.SslPolicies...)
		if out.NextMarker == nil {
			n++
			break
		}
		in.Marker = out.NextMarker
	}
	want := lb.SSLPolicies()
	if len(all) != len(want) || n != (len(want)+9)/10 {
		t.Fatalf("%d policies in %d pages, want %d in pages of 10", len(all), n, len(want))
	}
	for i, p := range all {
		if aws.ToString(p.Name) != want[i].Name || !reflect.DeepEqual(p.SslProtocols, want[i].Protocols) ||
			!reflect.DeepEqual(p.SupportedLoadBalancerTypes, []string{"application"}) || len(p.Ciphers) != len(want[i].Ciphers) {
			t.Fatalf("policy %d = %+v, want %+v", i, p, want[i])
		}
		for j, c := range p.Ciphers {
			if aws.ToString(c.Name) != want[i].Ciphers[j] || aws.ToInt32(c.Priority) != int32(j+1) {
				t.Errorf("%s cipher %d = %s priority %d", want[i].Name, j, aws.ToString(c.Name), aws.ToInt32(c.Priority))
			}
		}
	}

	out := sdktest.Must(e.client.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{
		Names: []string{"ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-2016-08"},
	}))
	if len(out.SslPolicies) != 2 || aws.ToString(out.SslPolicies[0].Name) != "ELBSecurityPolicy-TLS13-1-3-2021-06" ||
		!reflect.DeepEqual(out.SslPolicies[0].SslProtocols, []string{"TLSv1.3"}) ||
		!reflect.DeepEqual(out.SslPolicies[1].SslProtocols, []string{"TLSv1", "TLSv1.1", "TLSv1.2"}) {
		t.Errorf("DescribeSSLPolicies by name = %+v", out.SslPolicies)
	}
	_, err := e.client.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{Names: []string{"ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-Nope"}})
	wantCode[*types.SSLPolicyNotFoundException](t, err, "SSLPolicyNotFound")
	if out := sdktest.Must(e.client.DescribeSSLPolicies(ctx, &elb.DescribeSSLPoliciesInput{LoadBalancerType: types.LoadBalancerTypeEnumNetwork})); len(out.SslPolicies) != 0 {
		t.Errorf("policies of network load balancers: %d, want none (Flotilla has application load balancers)", len(out.SslPolicies))
	}
}

// TestDeleteCertificateRace has a listener take a certificate after
// DeleteCertificate found it unused and before it deletes it: the delete
// must see the new user and fail, not leave a listener whose certificate
// is gone.
func TestDeleteCertificateRace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	web := aws.ToString(e.createLB(t, "web").LoadBalancerArn)
	tg := aws.ToString(e.createTG(t, "blue", types.TargetTypeEnumIp).TargetGroupArn)
	site, _ := e.importCertificate(t, "site.example")
	var createErr error
	e.afterInUse = func() {
		_, createErr = e.client.CreateListener(ctx, &elb.CreateListenerInput{
			LoadBalancerArn: aws.String(web), Protocol: types.ProtocolEnumHttps, Port: aws.Int32(443),
			Certificates: []types.Certificate{{CertificateArn: aws.String(site)}}, DefaultActions: forward(tg),
		})
	}
	_, err := e.acm.DeleteCertificate(ctx, &acmsdk.DeleteCertificateInput{CertificateArn: aws.String(site)})
	if createErr != nil {
		t.Fatalf("CreateListener while the certificate was being deleted: %v", createErr)
	}
	wantCode[*acmtypes.ResourceInUseException](t, err, "ResourceInUseException")
	if d := sdktest.Must(e.acm.DescribeCertificate(ctx, &acmsdk.DescribeCertificateInput{CertificateArn: aws.String(site)})).Certificate; !reflect.DeepEqual(d.InUseBy, []string{web}) {
		t.Errorf("InUseBy = %v, want the load balancer", d.InUseBy)
	}
}
