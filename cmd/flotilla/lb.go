package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/flotilla/flotilla/internal/api/elbv2"
	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/store"
)

// runLoadBalancer keeps an in-process data plane in step with the ELBv2
// state in the store: on every change under /elbv2/ (debounced) and every
// few seconds, it builds the whole configuration and hands it to the data
// plane, which applies it without dropping requests in flight.
func runLoadBalancer(ctx context.Context, st store.Store, srv *lb.Server, log *slog.Logger) error {
	log = log.With("component", "lb-sync")
	go srv.Run(ctx)
	apply := func() {
		cfg, err := elbv2.BuildConfig(ctx, st)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("build load balancer configuration", "err", err)
			}
			return
		}
		if err := srv.Update(cfg); err != nil && ctx.Err() == nil {
			log.Warn("apply load balancer configuration", "err", err)
		}
	}
	for ctx.Err() == nil {
		rev, err := st.Rev(ctx)
		if err != nil {
			return err
		}
		events, err := st.Watch(ctx, "/elbv2/", rev)
		if err != nil {
			return err
		}
		apply()
		resync := time.NewTicker(5 * time.Second)
	loop:
		for {
			select {
			case <-ctx.Done():
				resync.Stop()
				return nil
			case <-resync.C:
				apply()
			case _, ok := <-events:
				if !ok {
					break loop // the watch fell behind: watch again
				}
				for deadline := time.After(50 * time.Millisecond); ; {
					select {
					case _, ok := <-events:
						if ok {
							continue
						}
					case <-deadline:
					}
					break
				}
				apply()
			}
		}
		resync.Stop()
	}
	return nil
}
