package agent

import (
	"context"
	"time"

	"github.com/flotilla/flotilla/internal/backoff"
)

// watchEvents wakes a task's runner as soon as the runtime reports one of
// its containers starting, dying or changing health, so that the agent
// reacts at once instead of at its next poll. The stream is reopened with
// backoff when it breaks; the runners' polling covers the gap.
func (a *Agent) watchEvents(ctx context.Context) {
	bo := backoff.New(100*time.Millisecond, 10*time.Second)
	for ctx.Err() == nil {
		events, errs := a.rt.Events(ctx)
		for ev := range events {
			bo.Reset()
			if r := a.runner(ev.Labels[LabelTaskARN]); r != nil {
				r.wakeUp()
			}
		}
		select {
		case err := <-errs:
			if err != nil && ctx.Err() == nil {
				a.log.Debug("container events broke; reopening", "err", err)
			}
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(bo.Next()):
		}
	}
}
