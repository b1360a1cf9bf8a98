package flotilla

import (
	"reflect"
	"testing"
	"time"
)

func TestCircuitBreakerThreshold(t *testing.T) {
	// ECS's table: 1 → 3, 25 → 13, 400 → 200, 800 → 200.
	for _, c := range []struct{ desired, want int }{
		{0, 3}, {1, 3}, {2, 3}, {5, 3}, {6, 3}, {7, 4}, {25, 13}, {100, 50}, {399, 200}, {400, 200}, {800, 200},
	} {
		if got := CircuitBreakerThreshold(c.desired); got != c.want {
			t.Errorf("CircuitBreakerThreshold(%d) = %d, want %d", c.desired, got, c.want)
		}
	}
}

func TestCircuitBreakerTrips(t *testing.T) {
	for _, c := range []struct {
		cb              CircuitBreaker
		failed, desired int
		want            bool
	}{
		{CircuitBreaker{Enable: true}, 2, 1, false},
		{CircuitBreaker{Enable: true}, 3, 1, true},
		{CircuitBreaker{Enable: true, Rollback: true}, 13, 25, true},
		{CircuitBreaker{Enable: true}, 12, 25, false},
		{CircuitBreaker{Rollback: true}, 200, 1, false},
	} {
		if got := c.cb.Trips(c.failed, c.desired); got != c.want {
			t.Errorf("%+v.Trips(%d, %d) = %v, want %v", c.cb, c.failed, c.desired, got, c.want)
		}
	}
}

func TestStartDeployment(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	later := at.Add(time.Hour)
	old := Deployment{ID: "old", Status: DeploymentActive, TaskDefinitionARN: "td:1", RolloutState: RolloutCompleted, CreatedAt: at, UpdatedAt: at}
	primary := Deployment{ID: "primary", Status: DeploymentPrimary, TaskDefinitionARN: "td:2", DesiredCount: 3, RolloutState: RolloutInProgress, CreatedAt: at, UpdatedAt: at}
	svc := Service{TaskDefinitionARN: "td:2", DesiredCount: 3, Deployments: []Deployment{primary, old}}

	d := NewDeployment("new", "td:3", 3, later)
	want := Deployment{ID: "new", Status: DeploymentPrimary, TaskDefinitionARN: "td:3", DesiredCount: 3,
		RolloutState: RolloutInProgress, RolloutStateReason: "ECS deployment in progress.", CreatedAt: later, UpdatedAt: later}
	if d != want {
		t.Fatalf("NewDeployment = %+v\nwant %+v", d, want)
	}
	svc.StartDeployment(d)
	demoted := primary
	demoted.Status, demoted.UpdatedAt = DeploymentActive, later
	if wantDeps := []Deployment{want, demoted, old}; !reflect.DeepEqual(svc.Deployments, wantDeps) {
		t.Errorf("deployments after StartDeployment:\n got %+v\nwant %+v", svc.Deployments, wantDeps)
	}
	if svc.TaskDefinitionARN != "td:3" {
		t.Errorf("service's task definition = %s, want td:3", svc.TaskDefinitionARN)
	}
	if id := NewDeploymentID(); len(id) != 20 || id == NewDeploymentID() {
		t.Errorf("NewDeploymentID() = %q, want 20 random hex digits", id)
	}
}

func TestDeploymentConfigurationValidate(t *testing.T) {
	if got := DefaultDeploymentConfiguration(SchedulingReplica); got != (DeploymentConfiguration{MinimumHealthyPercent: 100, MaximumPercent: 200}) {
		t.Errorf("REPLICA default = %+v", got)
	}
	if got := DefaultDeploymentConfiguration(SchedulingDaemon); got != (DeploymentConfiguration{MinimumHealthyPercent: 0, MaximumPercent: 100}) {
		t.Errorf("DAEMON default = %+v", got)
	}
	for _, c := range []struct {
		strategy      string
		minPct, maxPc int
		ok            bool
	}{
		{SchedulingReplica, 100, 200, true},
		{SchedulingReplica, 0, 100, true},
		{SchedulingReplica, 50, 150, true},
		{SchedulingReplica, -1, 200, false},
		{SchedulingReplica, 101, 200, false},
		{SchedulingReplica, 50, 99, false},
		{SchedulingReplica, 100, 100, false},
		{SchedulingDaemon, 0, 100, true},
		{SchedulingDaemon, 50, 100, true},
		{SchedulingDaemon, 0, 200, false},
		{SchedulingDaemon, 0, 50, false},
	} {
		dc := DeploymentConfiguration{MinimumHealthyPercent: c.minPct, MaximumPercent: c.maxPc}
		err := dc.Validate(c.strategy)
		if (err == nil) != c.ok {
			t.Errorf("%+v.Validate(%s) = %v, want ok %v", dc, c.strategy, err, c.ok)
		}
		if err != nil && ErrorCode(err) != EInvalid {
			t.Errorf("%+v.Validate(%s) = %v, want an %s error", dc, c.strategy, err, EInvalid)
		}
	}
}
