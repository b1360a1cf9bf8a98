//go:build unix

package lb

import "syscall"

// openFileLimit returns the process's soft limit on open files
// (RLIMIT_NOFILE), 0 when it cannot be read or is unlimited. Go's runtime
// raises the soft limit to the hard one at start.
func openFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return 0
	}
	return int(r.Cur)
}
