package api

import (
	"context"
	"fmt"

	"github.com/flotilla/flotilla/internal/model"
)

// RegionalJSON returns a JSON service that runs each request in the
// service of the region its credential scope names, as every region of
// AWS is an endpoint of its own with its own resources. forRegion returns
// that region's service (made once per region by the caller, its store
// keyed by region); svc, one of them, gives the target prefix, signing
// name, operations and error table, which every region's service shares.
func RegionalJSON(svc JSONService, forRegion func(ctx context.Context, region string) (JSONService, error)) JSONService {
	ops := make(map[string]Operation, len(svc.Operations))
	for name, first := range svc.Operations {
		ops[name] = Operation{input: first.input, invoke: func(ctx context.Context, body []byte, refused Refusals) (any, error) {
			rs, err := forRegion(ctx, SigningRegion(ctx))
			if err != nil {
				return nil, fmt.Errorf("region %s: %w", SigningRegion(ctx), err)
			}
			op, ok := rs.Operations[name]
			if !ok {
				return nil, fmt.Errorf("region %s: no operation %s", SigningRegion(ctx), name)
			}
			return op.invoke(ctx, body, refused)
		}}
	}
	svc.Operations = ops
	return svc
}

// RegionalQuery is RegionalJSON for a query-protocol service.
func RegionalQuery(svc QueryService, forRegion func(ctx context.Context, region string) (QueryService, error)) QueryService {
	ops := make(map[string]QueryOperation, len(svc.Operations))
	for name, first := range svc.Operations {
		ops[name] = QueryOperation{input: first.input, invoke: func(ctx context.Context, params *model.QueryNode, refused Refusals) (queryResult, error) {
			rs, err := forRegion(ctx, SigningRegion(ctx))
			if err != nil {
				return nil, fmt.Errorf("region %s: %w", SigningRegion(ctx), err)
			}
			op, ok := rs.Operations[name]
			if !ok {
				return nil, fmt.Errorf("region %s: no operation %s", SigningRegion(ctx), name)
			}
			return op.invoke(ctx, params, refused)
		}}
	}
	svc.Operations = ops
	return svc
}
