// Package scheduler decides where ECS tasks run: it parses and evaluates
// ECS's cluster query language (memberOf constraints, the
// ListContainerInstances filter), validates placement constraints and
// strategies, and places tasks on a Snapshot of a cluster's container
// instances the way Amazon ECS does: resources first, then constraints
// (distinctInstance, memberOf), then the strategies in order (spread,
// binpack, random), each breaking the ties of the one before.
//
// Everything here is pure computation over in-memory state: no I/O, no
// clock, no goroutines. The caller reads instances and tasks from the store,
// builds or updates a Snapshot, calls Place, and commits the placements with
// compare-and-swap writes. See docs/scheduler.md for the algorithm.
package scheduler
