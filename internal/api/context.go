package api

import "context"

type ctxKey struct{}

// requestInfo is what the server knows of an authenticated request.
type requestInfo struct {
	requestID, accessKeyID, region string
	principal                      Principal
}

func info(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(ctxKey{}).(*requestInfo)
	if i == nil {
		return &requestInfo{}
	}
	return i
}

// RequestID returns the x-amzn-RequestId of the request ctx belongs to, or ""
// outside a request.
func RequestID(ctx context.Context) string { return info(ctx).requestID }

// AccessKeyID returns the access key the request ctx belongs to was signed
// with (its signature verified), or "" outside a request.
func AccessKeyID(ctx context.Context) string { return info(ctx).accessKeyID }

// SigningRegion returns the region of the request's SigV4 credential scope,
// or "" outside a request: a region name shaped like AWS's (the server
// refuses others), each of which has its own resources.
func SigningRegion(ctx context.Context) string { return info(ctx).region }

// NewContext returns ctx carrying a request ID and an authenticated access
// key, as the server gives handlers; for tests of handlers and for callers
// inside the process.
func NewContext(ctx context.Context, requestID, accessKeyID string) context.Context {
	return context.WithValue(ctx, ctxKey{}, &requestInfo{requestID: requestID, accessKeyID: accessKeyID})
}
