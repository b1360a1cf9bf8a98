package flotilla_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
)

// TestServiceStoredJSON checks that a service's placement and load
// balancers read as the release before the typed fields stored them (ECS's
// wire types encoded as they are), and are written back the same, byte for
// byte.
func TestServiceStoredJSON(t *testing.T) {
	s := func(v string) *string { return &v }
	port := int32(8080)
	// What CreateService stored: the wire types' JSON, embedded.
	old := map[string]any{
		"placementConstraints": []wire.PlacementConstraint{
			{Type: wire.PlacementConstraintTypeDistinctInstance},
			{Type: wire.PlacementConstraintTypeMemberOf, Expression: s("attribute:ecs.availability-zone in [us-east-1a]")}},
		"placementStrategy": []wire.PlacementStrategy{
			{Type: wire.PlacementStrategyTypeSpread, Field: s("attribute:ecs.availability-zone")},
			{Type: wire.PlacementStrategyTypeRandom}},
		"loadBalancers": []wire.LoadBalancer{{TargetGroupArn: s("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"),
			ContainerName: s("web"), ContainerPort: &port}},
	}
	b, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	var svc flotilla.Service
	if err := json.Unmarshal(b, &svc); err != nil {
		t.Fatalf("read a service as stored before: %v", err)
	}
	wantCS := []flotilla.PlacementConstraint{{Type: "distinctInstance"}, {Type: "memberOf", Expression: "attribute:ecs.availability-zone in [us-east-1a]"}}
	wantSS := []flotilla.PlacementStrategy{{Type: "spread", Field: "attribute:ecs.availability-zone"}, {Type: "random"}}
	wantLBs := []flotilla.ServiceLoadBalancer{{TargetGroupARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef", ContainerName: "web", ContainerPort: 8080}}
	if !reflect.DeepEqual(svc.PlacementConstraints, wantCS) || !reflect.DeepEqual(svc.PlacementStrategy, wantSS) || !reflect.DeepEqual(svc.LoadBalancers, wantLBs) {
		t.Errorf("read %+v, %+v, %+v\nwant %+v, %+v, %+v", svc.PlacementConstraints, svc.PlacementStrategy, svc.LoadBalancers, wantCS, wantSS, wantLBs)
	}
	again, err := json.Marshal(svc)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(again, &got); err != nil {
		t.Fatal(err)
	}
	for key, v := range old {
		want, _ := json.Marshal(v)
		if string(got[key]) != string(want) {
			t.Errorf("%s written as %s, want %s", key, got[key], want)
		}
	}
	// Empty lists are left out, as before.
	empty, _ := json.Marshal(flotilla.Service{PlacementConstraints: []flotilla.PlacementConstraint{}})
	var m map[string]json.RawMessage
	_ = json.Unmarshal(empty, &m)
	for _, key := range []string{"placementConstraints", "placementStrategy", "loadBalancers"} {
		if v, ok := m[key]; ok {
			t.Errorf("empty %s written as %s, want it left out", key, v)
		}
	}
}
