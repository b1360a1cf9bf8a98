package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	wire "github.com/flotilla/flotilla/internal/model/ecs"

	"github.com/flotilla/flotilla/internal/backoff"
	"github.com/flotilla/flotilla/internal/ptr"
)

// reporter delivers queued state changes to the server in order, retrying
// with backoff across disconnects and restarts (the queue lives in the state
// file).
type reporter struct {
	state  *stateFile
	client *Client
	log    *slog.Logger
	wake   chan struct{}
	// onAuthFailure is called when the server refuses the credentials (the
	// agent falls back to the ones it started with).
	onAuthFailure func()
}

func newReporter(state *stateFile, client *Client, log *slog.Logger) *reporter {
	return &reporter{state: state, client: client, log: log, wake: make(chan struct{}, 1), onAuthFailure: func() {}}
}

// enqueue appends a task state change and persists it, together with
// whatever also changes the state (may be nil), before returning.
func (r *reporter) enqueue(change *wire.SubmitTaskStateChangeRequest, also func(*State)) error {
	b, err := json.Marshal(change)
	if err != nil {
		return err
	}
	err = r.state.update(func(s *State) {
		s.NextReport++
		s.Queue = append(s.Queue, Report{ID: s.NextReport, Task: b})
		if also != nil {
			also(s)
		}
	})
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return err
}

// run sends the queue until ctx ends.
func (r *reporter) run(ctx context.Context) {
	bo := backoff.New(100*time.Millisecond, 10*time.Second)
	for {
		var head *Report
		r.state.view(func(s *State) {
			if len(s.Queue) > 0 {
				h := s.Queue[0]
				head = &h
			}
		})
		if head == nil {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
				continue
			}
		}
		var in wire.SubmitTaskStateChangeRequest
		_ = json.Unmarshal(head.Task, &in)
		err := r.client.Call(ctx, "SubmitTaskStateChange", &in, nil)
		var ae *APIError
		switch {
		case err == nil:
		case errors.As(err, &ae) && !ae.Retryable():
			// The server refuses this change for good (the task was forgotten,
			// say): drop it rather than block every later report.
			r.log.Warn("state change refused", "task", ptr.Deref(in.Task), "status", ptr.Deref(in.Status), "err", err)
		default:
			if ctx.Err() != nil {
				return
			}
			if errors.As(err, &ae) && ae.AuthFailure() {
				r.onAuthFailure()
			}
			r.log.Debug("state change not delivered; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(bo.Next()):
			}
			continue
		}
		bo.Reset()
		_ = r.state.update(func(s *State) {
			if len(s.Queue) > 0 && s.Queue[0].ID == head.ID {
				s.Queue = s.Queue[1:]
			}
		})
	}
}
