package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	elbw "github.com/flotilla/flotilla/internal/model/elbv2"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

// createListener makes a load balancer named name in region with a
// listener on port.
func createListener(t *testing.T, rs *regions, region, name string, port int32) (*elbw.CreateListenerOutput, error) {
	t.Helper()
	ctx := context.Background()
	s, err := rs.get(ctx, region)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := s.elb.CreateLoadBalancer(ctx, &elbw.CreateLoadBalancerInput{Name: ptr.To(name)})
	if err != nil {
		t.Fatal(err)
	}
	return s.elb.CreateListener(ctx, &elbw.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Port: &port,
		Protocol: elbw.ProtocolEnumHttp, DefaultActions: []elbw.Action{{Type: elbw.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &elbw.FixedResponseActionConfig{StatusCode: ptr.To("200")}}}})
}

func wantDuplicateListener(t *testing.T, err error, what string) {
	t.Helper()
	var dup *elbw.DuplicateListenerException
	if !errors.As(err, &dup) {
		t.Fatalf("%s: %v, want DuplicateListener", what, err)
	}
}

// TestRegionsSharePortClaims refuses a listener on a port a listener of
// another region holds, every region's load balancers listening on the
// same address, and gives the port to another region once its listener
// is deleted.
func TestRegionsSharePortClaims(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	defer st.Close()
	rs := openRegions(t, st, "us-east-1")
	first, err := createListener(t, rs, "us-east-1", "front", 18080)
	if err != nil {
		t.Fatal(err)
	}
	_, err = createListener(t, rs, "eu-west-1", "front", 18080)
	wantDuplicateListener(t, err, "eu-west-1's listener on us-east-1's port")
	_, err = createListener(t, rs, "ap-south-2", "other", 18080)
	wantDuplicateListener(t, err, "ap-south-2's listener on us-east-1's port")
	if _, err := createListener(t, rs, "eu-west-1", "second", 18081); err != nil {
		t.Fatalf("eu-west-1's listener on a free port: %v", err)
	}
	_, err = createListener(t, rs, "us-east-1", "third", 18081)
	wantDuplicateListener(t, err, "us-east-1's listener on eu-west-1's port")

	us, _ := rs.get(context.Background(), "us-east-1")
	if _, err := us.elb.DeleteListener(context.Background(), &elbw.DeleteListenerInput{ListenerArn: first.Listeners[0].ListenerArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := createListener(t, rs, "ap-south-2", "fourth", 18080); err != nil {
		t.Fatalf("ap-south-2's listener on the port us-east-1's listener held: %v", err)
	}
}

// TestRegionsClaimLegacyPorts: a listener written before its port was
// claimed for every region (by a release without claims) has it claimed
// when the server starts, so that no listener of another region is given
// its port.
func TestRegionsClaimLegacyPorts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st := openStore(t, path)
	rs := openRegions(t, st, "us-east-1")
	if _, err := createListener(t, rs, "us-east-1", "front", 18080); err != nil {
		t.Fatal(err)
	}
	if _, err := createListener(t, rs, "eu-west-1", "back", 18081); err != nil {
		t.Fatal(err)
	}
	// As the release of before the claims wrote them: none.
	ctx := context.Background()
	for _, k := range []string{"/elbv2/ports/18080", "/elbv2/ports/18081"} {
		if _, err := st.Txn(ctx, store.Txn{Ops: []store.Op{{Key: k, Delete: true}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openStore(t, path)
	defer st.Close()
	rs = openRegions(t, st, "us-east-1")
	_, err := createListener(t, rs, "ap-south-2", "front", 18080)
	wantDuplicateListener(t, err, "a listener on the port of us-east-1's listener of before the claims")
	_, err = createListener(t, rs, "us-east-1", "other", 18081)
	wantDuplicateListener(t, err, "a listener on the port of eu-west-1's listener of before the claims")
}
