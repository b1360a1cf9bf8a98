package ecs

import (
	"context"
	"errors"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/scheduler"
)

// StartServiceTasks places count tasks of a service's deployment (or one on
// instanceID, for a DAEMON service) through the placer, with the service's
// placement constraints and strategy; the tasks carry the service's group
// and the deployment in startedBy. It is how the service controller starts
// tasks.
func (s *Service) StartServiceTasks(ctx context.Context, svc *flotilla.Service, deploymentID, taskDefinitionARN string, count int, instanceID string) ([]flotilla.Task, []scheduler.Failure, error) {
	req, err := s.newTaskRequest(ctx, svc.Cluster, taskDefinitionARN, "", nil, flotilla.ServiceGroup(svc.Name),
		flotilla.DeploymentStartedBy(deploymentID), nil, nil)
	if err != nil {
		return nil, nil, err
	}
	pr := scheduler.PlaceRequest{Cluster: svc.Cluster, Count: count,
		Request: scheduler.Request{Group: req.group, Reservation: req.res},
		NewTask: func(ci *flotilla.ContainerInstance) flotilla.Task { return s.newTask(req, ci) }}
	if instanceID != "" {
		pr.Named = []string{instanceID}
	} else {
		plan, err := placementPlan(req.td, svc.PlacementConstraints, svc.PlacementStrategy)
		if err != nil {
			return nil, nil, err
		}
		pr.Plan = plan
	}
	res, err := s.placer.Place(ctx, pr)
	if err != nil {
		return nil, nil, err
	}
	return res.Tasks, res.Failures, nil
}

// StopServiceTask asks a task to stop. A lost task (its instance's agent is
// gone) is marked STOPPED at once and its reservation released, since no
// agent will report it.
func (s *Service) StopServiceTask(ctx context.Context, cluster, taskID, code, reason string, lost bool) error {
	if !lost {
		_, err := s.updateTask(ctx, cluster, taskID, func(t *flotilla.Task) error {
			t.RequestStop(code, reason, s.now())
			return nil
		})
		return ignoreMissing(err)
	}
	_, err := s.changeTaskState(ctx, cluster, taskID, func(t *flotilla.Task) { t.StopLost(code, reason, s.now()) })
	return ignoreMissing(err)
}

// SetTaskTargets records the load balancer targets of a running service
// task, before the controller registers them. A task that is no longer
// desired RUNNING is left alone: the returned task says what it is now.
func (s *Service) SetTaskTargets(ctx context.Context, cluster, taskID string, targets []flotilla.TaskTarget) (*flotilla.Task, error) {
	return s.updateTask(ctx, cluster, taskID, func(t *flotilla.Task) error {
		if t.DesiredStatus == flotilla.TaskRunning {
			t.Targets = targets
		}
		return nil
	})
}

// FinishDeactivation moves a DEACTIVATING task, whose targets have
// drained, on to STOPPING: its agent is then told to stop it.
func (s *Service) FinishDeactivation(ctx context.Context, cluster, taskID string) error {
	_, err := s.changeTaskState(ctx, cluster, taskID, (*flotilla.Task).FinishDeactivation)
	return ignoreMissing(err)
}

func ignoreMissing(err error) error {
	var de *flotilla.Error
	if errors.As(err, &de) && de.Code == flotilla.EInvalid {
		return nil // the task is gone already
	}
	return err
}
