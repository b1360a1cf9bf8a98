// Package service decides what Amazon ECS's service scheduler does, as a
// pure function: Reconcile takes a service, its tasks, the cluster's
// container instances and the time, and returns the Plan that moves the
// service towards its desired state. The plan says which tasks to start
// and which to stop, and what the service looks like afterwards
// (deployment counts and rollout states, events). The plan keeps to the
// service's minimumHealthyPercent and maximumPercent, replaces unhealthy
// tasks and tasks on draining or lost instances, trips the deployment
// circuit breaker (and rolls back), throttles launches that keep failing,
// and runs one task per eligible instance for DAEMON services.
//
// Everything here is computation over values: no I/O, no clock, no
// goroutines, no randomness. The same Input always gives the same Plan.
// The service controller reads the store, calls Reconcile, and applies the
// plan in one transaction (see Plan for what applying means). See
// docs/service-scheduler.md for the rules and the numbers chosen.
package service
