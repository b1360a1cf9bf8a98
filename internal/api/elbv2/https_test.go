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

	"github.com/flotilla/flotilla/internal/api/elbv2"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/testcert"
)

// importCertificate imports a new self-signed certificate for name into
// ACM and returns its ARN and PEM.
func (e *env) importCertificate(t *testing.T, name string) (arn string, certPEM []byte) {
	t.Helper()
	certPEM, keyPEM := testcert.SelfSigned(t, name)
	out := must(e.acm.ImportCertificate(context.Background(), &acmsdk.ImportCertificateInput{
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

	l := must(create([]types.Certificate{{CertificateArn: aws.String(site)}}, nil)).Listeners[0]
	if l.Protocol != types.ProtocolEnumHttps || aws.ToString(l.SslPolicy) != "ELBSecurityPolicy-2016-08" ||
		len(l.Certificates) != 1 || aws.ToString(l.Certificates[0].CertificateArn) != site {
		t.Fatalf("CreateListener = %+v", l)
	}

	// Certificates for SNI, the default one apart.
	must(e.client.AddListenerCertificates(ctx, &elb.AddListenerCertificatesInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(api)}, {CertificateArn: aws.String(other)}}}))
	certs := func() []string {
		var arns []string
		for _, c := range must(e.client.DescribeListenerCertificates(ctx, &elb.DescribeListenerCertificatesInput{ListenerArn: l.ListenerArn})).Certificates {
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
	must(e.client.RemoveListenerCertificates(ctx, &elb.RemoveListenerCertificatesInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(other)}}}))

	// The data plane gets the listener's certificates with their material.
	cfg, _, err := elbv2.BuildConfig(ctx, e.store)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Listeners[0].Certificates; !reflect.DeepEqual(got, []lb.Certificate{{ARN: site}, {ARN: api}}) {
		t.Errorf("configuration's listener certificates = %v", got)
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
	if d := must(e.acm.DescribeCertificate(ctx, &acmsdk.DescribeCertificateInput{CertificateArn: aws.String(api)})).Certificate; !reflect.DeepEqual(d.InUseBy, []string{web}) {
		t.Errorf("InUseBy = %v", d.InUseBy)
	}

	// A new default replaces the old one; the policy can change.
	l = must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(other)}}, SslPolicy: aws.String("ELBSecurityPolicy-TLS13-1-2-2021-06")})).Listeners[0]
	if aws.ToString(l.SslPolicy) != "ELBSecurityPolicy-TLS13-1-2-2021-06" || aws.ToString(l.Certificates[0].CertificateArn) != other {
		t.Fatalf("ModifyListener = %+v", l)
	}
	if got, want := certs(), []string{"*" + other, api}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after a new default DescribeListenerCertificates = %v, want %v", got, want)
	}
	// An extra certificate made the default is no longer an extra one.
	must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(api)}}}))
	if got, want := certs(), []string{"*" + api}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after an extra became the default DescribeListenerCertificates = %v, want %v", got, want)
	}

	// Back to HTTP, it has no certificates; they can go.
	l = must(e.client.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.ListenerArn, Protocol: types.ProtocolEnumHttp})).Listeners[0]
	if l.Protocol != types.ProtocolEnumHttp || len(l.Certificates) != 0 || l.SslPolicy != nil {
		t.Fatalf("ModifyListener to HTTP = %+v", l)
	}
	_, err = e.client.AddListenerCertificates(ctx, &elb.AddListenerCertificatesInput{ListenerArn: l.ListenerArn,
		Certificates: []types.Certificate{{CertificateArn: aws.String(api)}}})
	wantCode[smithy.APIError](t, err, "ValidationError")
	must(e.acm.DeleteCertificate(ctx, &acmsdk.DeleteCertificateInput{CertificateArn: aws.String(api)}))
}
