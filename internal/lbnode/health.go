package lbnode

import (
	"context"
	"fmt"
	"time"

	"github.com/flotilla/flotilla/internal/lb"
	"github.com/flotilla/flotilla/internal/store"
)

// Reports returns every node's report in st, live or not, by node name.
func Reports(ctx context.Context, st store.Store) ([]Report, error) {
	items, _, err := store.ListJSON[Report](ctx, st, Prefix, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list node reports: %w", err)
	}
	out := make([]Report, len(items))
	for i, it := range items {
		out[i] = it.Value
	}
	return out, nil
}

// TargetHealth returns the health of a target group's targets merged over
// the reports in st that are live at now (Merge): what DescribeTargetHealth
// reports, whichever server answers and whichever nodes serve.
func TargetHealth(ctx context.Context, st store.Store, now time.Time, targetGroupARN string) ([]lb.TargetHealth, error) {
	reports, err := Reports(ctx, st)
	if err != nil {
		return nil, err
	}
	return Merge(reports, now, targetGroupARN), nil
}

// ListenerErrors returns why the listeners that some node live at now
// could not open did not, over the reports in st (MergeListenerErrors):
// what the load balancers' State reports.
func ListenerErrors(ctx context.Context, st store.Store, now time.Time) (map[string]string, error) {
	reports, err := Reports(ctx, st)
	if err != nil {
		return nil, err
	}
	return MergeListenerErrors(reports, now), nil
}
