package docker

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/flotilla/flotilla/internal/agent"
)

// eventActions are the container events Events reports.
var eventActions = []string{"start", "die", "oom", "health_status"}

// engineAttributes are the attributes the engine adds to a container's
// labels in an event.
var engineAttributes = []string{"image", "name", "exitCode", "signal"}

// Events streams container start, die, oom and health_status events until
// ctx ends. It returns once the engine has accepted the subscription. The
// event channel is closed when the stream ends; if it broke (rather than
// ctx ending), the error channel holds one error by then. Reconnecting is
// the caller's job.
func (r *Runtime) Events(ctx context.Context) (<-chan agent.Event, <-chan error) {
	args := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))
	for _, a := range eventActions {
		// The engine matches health_status as a prefix of, e.g.,
		// "health_status: healthy".
		args.Add("event", a)
	}
	msgs, errs := r.cli.Events(ctx, events.ListOptions{Filters: args})
	out := make(chan agent.Event)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case m := <-msgs:
				ev, ok := toEvent(m)
				if !ok {
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			case err := <-errs:
				if ctx.Err() == nil {
					errc <- fmt.Errorf("container events: %w", err)
				}
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errc
}

// toEvent maps an engine event onto the contract's, reporting false for
// events Events does not report. "health_status: healthy" becomes
// "health_status".
func toEvent(m events.Message) (agent.Event, bool) {
	if m.Type != events.ContainerEventType {
		return agent.Event{}, false
	}
	action, _, _ := strings.Cut(string(m.Action), ":")
	found := false
	for _, a := range eventActions {
		found = found || a == action
	}
	if !found {
		return agent.Event{}, false
	}
	labels := maps.Clone(m.Actor.Attributes)
	for _, k := range engineAttributes {
		delete(labels, k)
	}
	t := time.Unix(0, m.TimeNano)
	if m.TimeNano == 0 {
		t = time.Unix(m.Time, 0)
	}
	return agent.Event{ID: m.Actor.ID, Action: action, Labels: labels, Time: t}, true
}
