//go:build !unix

package testimage

import "context"

// lock does nothing where flock is missing: concurrent builds of the same
// tag still end with the tag naming a good image.
func lock(ctx context.Context, path string) (func(), error) {
	return func() {}, nil
}
