// Package service holds the service scheduler's decisions as a pure
// function. Reconcile takes a service, its tasks, the cluster's container
// instances and the time, and returns the Plan that moves the service
// towards its desired state: tasks to start, tasks to stop, and the service
// as it should be written back (deployment counts, rollout states, events).
// It does no I/O, reads no clock, starts no goroutines and uses no
// randomness, so the same Input always gives the same Plan. The
// controller in this package reads the store, calls Reconcile and applies
// the plan.
//
// The rules follow Amazon ECS's developer guide. Where the guide leaves a
// choice open, this package makes one, as follows.
//
// # Counting
//
// A task is running when its last and desired statuses are RUNNING, and
// pending when it is desired RUNNING and its last status comes before
// RUNNING. Running and pending tasks of every deployment, except those on
// unreachable instances, count against maximumPercent. A task is healthy when it is running, its instance is
// not lost, and, if an essential container has a health check (a non-empty
// container health status), its health status is HEALTHY. A task serves
// when it is healthy or, when its service's load balancers fail open (no
// running task of the service has healthy targets and one has unhealthy
// ones, so the load balancer routes to all of them), when it is running
// with unhealthy targets. With D desired tasks, a plan never takes the
// serving tasks below ceil(minimumHealthyPercent × D / 100) when that many
// served before, and never starts tasks beyond
// floor(maximumPercent × D / 100) running and pending ones. A task the
// plan stops counts as gone; a task it starts counts as pending.
//
// # REPLICA services
//
// The PRIMARY deployment gets D tasks. Tasks of every other deployment (or
// of a deployment no longer listed), tasks on DRAINING or DEREGISTERING
// instances and the PRIMARY's tasks beyond D are stopped: those that are
// not healthy at once (so a draining instance's pending tasks stop at
// once), healthy ones as far as the floor allows, which is how a rolling
// update and instance draining proceed. Which tasks go first follows the
// placement strategy read backwards: spread stops from the attribute value
// (or instance) holding the most of the service's tasks, binpack from the
// instance with the most CPU or memory left, random in a pseudo-random
// order derived from the time; then from the instance holding the most
// (unless random), then the newest task. Without a strategy, the service
// default applies: spread on attribute:ecs.availability-zone. A FAILED
// deployment starts nothing, and older tasks are then stopped only while
// there are more than D.
//
// Once the PRIMARY deployment has D healthy tasks (not on draining
// instances) and no other deployment has a task that is not STOPPED, its
// rolloutState is COMPLETED ("ECS deployment ecs-svc/<id> completed.") and
// the other deployments are dropped from Service.Deployments. A deployment
// with an empty rolloutState counts as IN_PROGRESS.
//
// # Health checks
//
// A running task whose health status is UNHEALTHY, or whose targets are
// unhealthy, fails its health checks once healthCheckGracePeriodSeconds
// have passed since it started; until then it is kept and Plan.Next is the
// end of the grace period. A failing task is replaced within the
// service's bounds, as ECS's guide describes, never all at once:
//
//   - It no longer counts towards D, so the PRIMARY deployment starts its
//     replacement as maximumPercent allows, beside it.
//   - It is stopped ("Task failed container health checks", event
//     "(service S) (task T) failed container health checks.") once it is
//     replaced: while the healthy and failing tasks are more than D, the
//     failing ones beyond D go (as the floor allows).
//   - When its replacement cannot start beside it (maximumPercent reached,
//     the deployment throttled or FAILED, or a DAEMON task, whose
//     replacement goes on its instance) and no task is starting (every
//     task but the failing ones is healthy), one failing task is stopped
//     per plan, unless it serves and the serving tasks would fall below
//     the floor; a REPLICA replacement then starts in the same plan.
//
// When every target is unhealthy (fail-open) the failing tasks serve, so
// they are replaced one at a time or as their replacements become healthy,
// never below the floor. A task whose health status stays UNKNOWN, or
// whose targets stay initial, is not healthy and is not replaced; while it
// lasts it counts as starting.
//
// # Load balancers
//
// A service with loadBalancers (target group, container name, container
// port) has its tasks put behind the target groups by the controller
// before each Reconcile (targets.go), level-triggered like the rest:
//
//   - A RUNNING task's targets are recorded on the task (Task.Targets: the
//     host port its container publishes for the container port, on its
//     instance's EC2 instance ID for an instance target group or on its
//     address for an ip one) and then registered. Recording first means a
//     crash between the two leaves a target that the task's record still
//     names, so it is always deregistered later.
//   - A task with targets is healthy only once they are healthy in every
//     group, as the load balancer nodes report it (Input.TargetHealth,
//     merged by lbnode.Merge: a quorum of the nodes that see a target, a
//     node finding every target unhealthy that another finds healthy not
//     counting); one that is unhealthy after the grace period fails its
//     health checks and is replaced as above ("Task failed ELB health
//     checks in (target-group ARN)"), and counts for the throttle like a
//     container health check failure.
//   - A RUNNING task with targets that is asked to stop, by the scheduler
//     or by StopTask, goes to DEACTIVATING instead of stopping: the agent
//     keeps it running, its targets are deregistered, and it moves on to
//     STOPPING once every live load balancer node has applied the
//     deregistration and finished draining the target (no request in
//     flight), or once the group's deregistration delay has passed. A task
//     that stops on its own has its targets deregistered.
//
// # Failures: circuit breaker and throttle
//
// A task fails when it stopped (desired STOPPED) without ever reaching
// RUNNING, unless stopped on purpose (stop codes UserInitiated,
// ServiceSchedulerInitiated, SpotInterruption, TerminationNotice), or was
// stopped for failing its health checks (a stoppedReason "Task failed ...
// health checks ..."). Like ECS's failedTasks, the count is consecutive:
// the PRIMARY deployment's failed tasks newer (by creation) than its
// newest task that succeeded, that is, is healthy now or reached RUNNING
// and was stopped on purpose afterwards. A task that reached RUNNING and
// then exited on its own neither fails nor succeeds.
//
// With the circuit breaker enabled and the PRIMARY deployment IN_PROGRESS,
// flotilla.CircuitBreakerThreshold(D) = min(max(ceil(0.5 × D), 3), 200)
// failures mark it FAILED ("ECS deployment circuit breaker: tasks failed
// to start.", event "(service S) (deployment ecs-svc/ID) deployment
// failed: tasks failed to start."). With rollback, a new PRIMARY deployment takes the task
// definition of the newest COMPLETED deployment ("ECS deployment circuit
// breaker: rolling back to deploymentId ecs-svc/<completed id>.", event
// "(service S) rolling back to deployment ecs-svc/<completed id>."), the
// failed one becomes ACTIVE and its tasks are replaced like any older
// deployment's, and the service's task definition becomes the rolled-back
// one. The new deployment's ID is 20 hex digits derived from the service,
// the failed deployment and the time. A deployment that is itself a
// rollback is not rolled back again; a deployment COMPLETED before does
// not fail.
//
// Otherwise failures throttle launches: after n ≥ 2 consecutive failures,
// the PRIMARY deployment starts nothing until ThrottleDelay(n) after the
// newest failure, 10 s doubling with each failure (10 s, 20 s, 40 s, ...)
// up to ECS's documented 27 minutes, and Plan.Next says when. The event
// "(service S) is unable to consistently start tasks successfully." is
// emitted when the count grows past the one stored in the deployment's
// FailedTasks. A new deployment starts with no failures.
//
// # Instances
//
// An instance whose agent has been disconnected for InstanceGracePeriod
// (default 30 s) is unreachable. The period counts from the later of its
// DisconnectedAt and Input.HeardSince, the moment the server could first
// have heard from agents (its start, or when it regained the store): a
// server that was down or cut off for longer than the grace period does
// not hold its own absence against the agents. Before the grace period
// ends nothing happens and Plan.Next is its end.
//
// The control plane losing sight of an agent never removes capacity that
// may still be serving. A task on an unreachable instance that is desired
// RUNNING is neither healthy nor counted against maximumPercent, and is
// neither stopped nor replaced by the rules above; the PRIMARY deployment
// gets replacements for it where the scheduler finds capacity. It stays
// (its load balancer targets registered) until healthy tasks stand in for
// it: with H healthy tasks the plan keeps and U unreachable ones, all but
// min(U, max(0, D - H)) of them are stopped with Lost set ("Task stopped because the
// container instance agent is unreachable"), in task ID order, and the
// controller marks them STOPPED. An unreachable task already desired
// STOPPED is marked STOPPED at once. When the agent comes back first, its
// tasks count again, and the service's tasks beyond D are stopped by the
// usual rules: those not healthy first (pending replacements), healthy
// ones only as far as the floor allows, so the service stays whole.
//
// An INACTIVE or unknown instance is gone: its tasks that are not STOPPED
// are stopped with Lost set ("Task stopped because its container instance
// was deregistered"), marked STOPPED, and replaced by the usual rules.

// # DAEMON services
//
// The targets are the ACTIVE instances that are not lost and satisfy the
// memberOf constraints (task:group answered by Input.InstanceGroups); D,
// reported as the service's desiredCount, is their number. An instance
// whose agent is disconnected stays a target through its grace period but
// gets no new task; past it, the instance is no target, and its task is
// kept until the agent returns or the instance is deregistered (nothing
// can replace it elsewhere). Tasks off the targets (DRAINING, no longer matching)
// stop at once, without replacement. On a target, a second task stops; an
// older deployment's task stops as the floor allows (all at once with the
// default 0%), and the instance gets the PRIMARY's task in a later
// reconcile, once no task of the service on it is anything but STOPPED.
//
// # Events and deletion
//
// Events are ECS's wording, newest first, capped at
// flotilla.MaxServiceEvents, with IDs derived from the service, the time
// and the message. "(service S) has reached a steady state." is emitted
// when the service has one deployment, done rolling out, D running and
// healthy tasks and nothing else, and nothing to start or stop, unless it
// is already the newest event. The controller reports the tasks it
// started and stopped ("has started N tasks: ...", "has stopped N running
// tasks: ..."): only it knows the new tasks' IDs and what it managed to do.
//
// A DRAINING service (being deleted) has every task stopped (unreachable
// ones as lost) and nothing started; an INACTIVE one is left alone.
package service
