package elb_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/cert"
	"github.com/flotilla/flotilla/internal/elb"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/store"
	"github.com/flotilla/flotilla/internal/store/bolt"
)

// Records as release 0.1.0 stored them (cmd/flotilla/testdata/upgrade),
// by key.
const (
	lbARN    = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/upgrade/63c2daae967b63c3"
	tgARN    = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/upgrade/538b5c55f8a8f3a3"
	certARN  = "arn:aws:acm:us-east-1:123456789012:certificate/4a0322c2-af7a-46cb-b815-cfa4d8780f76"
	listener = `{"arn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/upgrade/63c2daae967b63c3/6f12003f22f4f517","loadBalancerArn":"` + lbARN + `","port":30063,"protocol":"HTTPS","certificates":[{"certificateArn":"` + certARN + `"}],"sslPolicy":"ELBSecurityPolicy-2016-08","defaultActions":[{"type":"forward","targetGroupArn":"` + tgARN + `"}],"id":"6f12003f22f4f517","defaultRuleId":"d9612b4900057ed9"}`
	loadBal  = `{"arn":"` + lbARN + `","name":"upgrade","id":"63c2daae967b63c3","dnsName":"upgrade-63c2daae967b63c3.us-east-1.elb.localhost","scheme":"internet-facing","ipAddressType":"ipv4","created":"2026-12-08T00:26:07.446Z"}`
	tgroup   = `{"arn":"` + tgARN + `","name":"upgrade","protocol":"HTTP","port":80,"targetType":"instance","healthCheck":{"protocol":"HTTP","port":"traffic-port","path":"/","intervalSeconds":30,"timeoutSeconds":5,"healthyThresholdCount":5,"unhealthyThresholdCount":2,"matcher":{"httpCode":"200"}},"attributes":{"deregistration_delay.timeout_seconds":"300","load_balancing.algorithm.type":"round_robin","slow_start.duration_seconds":"0","stickiness.enabled":"false","stickiness.lb_cookie.duration_seconds":"86400","stickiness.type":"lb_cookie"},"healthCheckEnabled":true}`
)

// roundTrip decodes stored JSON into a record and encodes it again.
func roundTrip[T any](t *testing.T, stored string) *T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(stored), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(&v)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != stored {
		t.Errorf("%T encodes as\n%s\nwant, as stored,\n%s", v, b, stored)
	}
	return &v
}

// TestRecordsLayout: the records and keys are those an earlier release
// wrote, so that an upgrade reads its data.
func TestRecordsLayout(t *testing.T) {
	l := roundTrip[elb.ListenerRecord](t, listener)
	b := roundTrip[elb.LoadBalancerRecord](t, loadBal)
	g := roundTrip[elb.TargetGroupRecord](t, tgroup)
	roundTrip[elb.RuleRecord](t, `{"arn":"r","listenerArn":"l","priority":3,"conditions":[{"field":"path-pattern","values":["/a"]}],"actions":[{"type":"forward","targetGroupArn":"`+tgARN+`"}],"id":"r1"}`)
	for _, k := range []struct{ got, want string }{
		{elb.LoadBalancerKey(b.Name), "/elbv2/loadbalancers/upgrade"},
		{elb.TargetGroupKey(g.Name), "/elbv2/targetgroups/upgrade"},
		{elb.ListenerKey(l.ID), "/elbv2/listeners/6f12003f22f4f517"},
		{elb.RuleKey("d9612b4900057ed9"), "/elbv2/rules/d9612b4900057ed9"},
		{elb.PortKey(l.Port), "/elbv2/ports/30063"},
		{elb.TagsKey(lbARN), "/elbv2/tags/" + lbARN},
		{cert.Key("4a0322c2"), "acm/certificate/4a0322c2"},
		{cert.UseKey("4a0322c2"), "acm/use/4a0322c2"},
	} {
		if k.got != k.want {
			t.Errorf("key %q, want %q", k.got, k.want)
		}
	}
}

func newStore(t *testing.T) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{InitialMmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func put(t *testing.T, st store.Store, key string, v any) {
	t.Helper()
	op, err := store.PutJSON(key, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Txn(context.Background(), store.Txn{Ops: []store.Op{op}}); err != nil {
		t.Fatal(err)
	}
}

// TestBuildConfig builds the data plane's configuration from stored
// records: the load balancer with its idle timeout, the listener of a
// load balancer that exists (not one whose load balancer is gone), the
// instance targets resolved to their container instances' addresses (an
// active instance over an inactive one of the same EC2 ID, 127.0.0.1 for
// one without an address, none for an unknown one), and the listener's
// certificate material.
func TestBuildConfig(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	put(t, st, elb.ListenerKey("6f12003f22f4f517"), json.RawMessage(listener))
	put(t, st, elb.ListenerKey("orphan"), elb.ListenerRecord{Listener: lb.Listener{ARN: "orphan", LoadBalancerARN: "gone", Port: 81}, ID: "orphan"})
	b := roundTrip[elb.LoadBalancerRecord](t, loadBal)
	b.Attributes = map[string]string{elb.AttrIdleTimeout: "7"}
	put(t, st, elb.LoadBalancerKey(b.Name), b)
	g := roundTrip[elb.TargetGroupRecord](t, tgroup)
	g.Targets = []lb.Target{{ID: "i-a"}, {ID: "i-b", Port: 8080}, {ID: "i-unknown"}}
	put(t, st, elb.TargetGroupKey(g.Name), g)
	put(t, st, flotilla.InstanceKey("c", "1"), flotilla.ContainerInstance{ID: "1", EC2InstanceID: "i-a", Address: "10.0.0.1", Status: flotilla.InstanceActive})
	put(t, st, flotilla.InstanceKey("c", "2"), flotilla.ContainerInstance{ID: "2", EC2InstanceID: "i-a", Address: "10.0.0.9", Status: "INACTIVE"})
	put(t, st, flotilla.InstanceKey("c", "3"), flotilla.ContainerInstance{ID: "3", EC2InstanceID: "i-b", Status: flotilla.InstanceActive})
	put(t, st, cert.Key("4a0322c2-af7a-46cb-b815-cfa4d8780f76"), cert.Record{ARN: certARN, CertificatePEM: "CERT", ChainPEM: "CHAIN", PrivateKeyPEM: "KEY"})

	cfg, rev, err := elb.BuildConfig(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if rev == 0 {
		t.Error("revision 0")
	}
	if len(cfg.LoadBalancers) != 1 || cfg.LoadBalancers[0].ARN != lbARN || cfg.LoadBalancers[0].IdleTimeoutSeconds != 7 {
		t.Errorf("load balancers %+v", cfg.LoadBalancers)
	}
	if len(cfg.Listeners) != 1 || cfg.Listeners[0].Port != 30063 {
		t.Errorf("listeners %+v", cfg.Listeners)
	}
	want := []lb.Target{{ID: "i-a", Address: "10.0.0.1"}, {ID: "i-b", Port: 8080, Address: elb.DefaultInstanceAddress}}
	if len(cfg.TargetGroups) != 1 || !reflect.DeepEqual(cfg.TargetGroups[0].Targets, want) {
		t.Errorf("target groups %+v, want targets %+v", cfg.TargetGroups, want)
	}
	if len(cfg.Certificates) != 1 || cfg.Certificates[0] != (lb.CertificateMaterial{ARN: certARN, CertificatePEM: "CERT\nCHAIN", PrivateKeyPEM: "KEY"}) {
		t.Errorf("certificates %+v", cfg.Certificates)
	}

	// Without the load balancer's attribute, the default idle timeout.
	b.Attributes = nil
	put(t, st, elb.LoadBalancerKey(b.Name), b)
	if cfg, _, err = elb.BuildConfig(ctx, st); err != nil || cfg.LoadBalancers[0].IdleTimeoutSeconds != 60 {
		t.Errorf("idle timeout %+v, %v; want 60", cfg.LoadBalancers, err)
	}
}

// TestTargetGroupState: the controller's view of a target group.
func TestTargetGroupState(t *testing.T) {
	g := roundTrip[elb.TargetGroupRecord](t, tgroup)
	g.TargetType = ""
	g.Targets = []lb.Target{{ID: "i-a"}, {ID: "i-b", Port: 9000, Address: "ignored"}}
	s := g.State(42)
	want := &elb.TargetGroupState{ARN: tgARN, TargetType: lb.TargetTypeInstance, Targets: []lb.Target{{ID: "i-a", Port: 80}, {ID: "i-b", Port: 9000}},
		Revision: 42, DeregistrationDelay: 300 * time.Second, HealthCheckEnabled: true}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("State =\n%+v\nwant\n%+v", s, want)
	}
	if !s.Has("i-a", 80) || s.Has("i-a", 9000) {
		t.Error("Has")
	}
	g.TargetType, g.HealthCheckEnabled = lb.TargetTypeIP, false
	g.Attributes = map[string]string{lb.AttrDeregistrationDelay: "5"}
	if s := g.State(1); s.TargetType != lb.TargetTypeIP || s.DeregistrationDelay != 5*time.Second || s.HealthCheckEnabled {
		t.Errorf("State = %+v", s)
	}
	g.Attributes = nil
	if s := g.State(1); s.DeregistrationDelay != time.Duration(lb.DefaultDeregistrationDelay)*time.Second {
		t.Errorf("default delay %v", s.DeregistrationDelay)
	}
}

// TestLoadBalancersOf: a target group's load balancers are those whose
// listeners' default actions or rules forward to it, each once.
func TestLoadBalancersOf(t *testing.T) {
	fwd := func(arns ...string) []lb.Action {
		var tgs []lb.TargetGroupTuple
		for _, a := range arns {
			tgs = append(tgs, lb.TargetGroupTuple{TargetGroupARN: a})
		}
		return []lb.Action{{Type: "forward", ForwardConfig: &lb.ForwardConfig{TargetGroups: tgs}}}
	}
	s := &elb.State{
		Listeners: []store.Item[elb.ListenerRecord]{
			{Value: elb.ListenerRecord{Listener: lb.Listener{ARN: "l1", LoadBalancerARN: "lb1", DefaultActions: []lb.Action{{Type: "forward", TargetGroupARN: "tg1"}}}}},
			{Value: elb.ListenerRecord{Listener: lb.Listener{ARN: "l2", LoadBalancerARN: "lb2", DefaultActions: fwd("tg1", "tg2")}}},
		},
		Rules: []store.Item[elb.RuleRecord]{
			{Value: elb.RuleRecord{Rule: lb.Rule{ListenerARN: "l1", Actions: fwd("tg1", "tg3")}}},
		},
	}
	want := map[string][]string{"tg1": {"lb1", "lb2"}, "tg2": {"lb2"}, "tg3": {"lb1"}}
	if got := s.LoadBalancersOf(); !reflect.DeepEqual(got, want) {
		t.Errorf("LoadBalancersOf = %v, want %v", got, want)
	}
}

// TestCertificateUsers: by certificate, the load balancers of the
// listeners that present it, sorted, each once.
func TestCertificateUsers(t *testing.T) {
	st := newStore(t)
	for i, l := range []lb.Listener{
		{ARN: "l1", LoadBalancerARN: "lb2", Certificates: []lb.Certificate{{ARN: "c1"}, {ARN: "c2"}}},
		{ARN: "l2", LoadBalancerARN: "lb1", Certificates: []lb.Certificate{{ARN: "c1"}}},
		{ARN: "l3", LoadBalancerARN: "lb2", Certificates: []lb.Certificate{{ARN: "c1"}}},
	} {
		put(t, st, elb.ListenerKey(string(rune('a'+i))), elb.ListenerRecord{Listener: l})
	}
	got, err := elb.CertificateUsers(context.Background(), st)
	if want := map[string][]string{"c1": {"lb1", "lb2"}, "c2": {"lb2"}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("CertificateUsers = %v, %v; want %v", got, err, want)
	}
}

// TestBuildConfigStoreError: a record the store cannot decode fails the
// build, naming its key.
func TestBuildConfigStoreError(t *testing.T) {
	st := newStore(t)
	if _, err := st.Txn(context.Background(), store.Txn{Ops: []store.Op{{Key: elb.RuleKey("bad"), Value: []byte("{")}}}); err != nil {
		t.Fatal(err)
	}
	_, _, err := elb.BuildConfig(context.Background(), st)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("BuildConfig: %v, want a JSON syntax error", err)
	}
}
