package ecs

import (
	"context"

	"github.com/flotilla/flotilla"
	"github.com/flotilla/flotilla/internal/paging"
)

// page holds the pagination parameters of a List request after validation.
type page struct {
	after string // the last key of the previous page, "" for the first
	limit int
}

// parsePage validates nextToken and maxResults; max is the operation's
// largest page (and its default).
func parsePage(nextToken *string, maxResults *int32, max int) (page, error) {
	p := page{limit: max}
	if maxResults != nil {
		if *maxResults < 1 || int(*maxResults) > max {
			return p, flotilla.Errorf(flotilla.EInvalid, "maxResults must be between 1 and %d.", max)
		}
		p.limit = int(*maxResults)
	}
	if nextToken != nil && *nextToken != "" {
		after, err := paging.Key(*nextToken)
		if err != nil {
			return p, flotilla.Errorf(flotilla.EInvalid, "Invalid nextToken.")
		}
		p.after = after
	}
	return p, nil
}

// paginate cuts a list sorted by ascending key into one page and the token
// of the next one (nil on the last page).
func paginate[T any](items []T, key func(T) string, p page) ([]T, *string) {
	return paginateOrdered(items, key, p, false)
}

// paginateOrdered is paginate for a list sorted by key, descending when desc.
func paginateOrdered[T any](items []T, key func(T) string, p page, desc bool) ([]T, *string) {
	return paging.Page(items, key, p.after, p.limit, desc)
}

// clusterPage resolves the cluster of a List request, parses its page, and
// checks that the cluster is ACTIVE.
func (s *Service) clusterPage(ctx context.Context, ref, nextToken *string, maxResults *int32, max int) (string, page, error) {
	cluster, err := s.clusterName(ref)
	if err != nil {
		return "", page{}, err
	}
	p, err := parsePage(nextToken, maxResults, max)
	if err != nil {
		return "", page{}, err
	}
	if _, _, err := s.activeCluster(ctx, cluster); err != nil {
		return "", page{}, err
	}
	return cluster, p, nil
}
