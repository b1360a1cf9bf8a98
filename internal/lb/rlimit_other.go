//go:build !unix

package lb

// openFileLimit returns 0: there is no RLIMIT_NOFILE here.
func openFileLimit() int { return 0 }
