package lbnode

import "sync"

// failures counts the consecutive failures of an operation that is retried
// until it succeeds (a report, a configuration fetch), so that a cause
// that lasts (a full disk, a server down) is logged a few times, not on
// every attempt: the 1st failure, the 10th, the 100th, and so on, and the
// recovery once. It is safe for concurrent use.
type failures struct {
	mu sync.Mutex
	n  int
}

// fail counts a failure and returns how many there have been in a row, and
// whether this one is to be logged.
func (f *failures) fail() (n int, log bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	n = f.n
	for n%10 == 0 {
		n /= 10
	}
	return f.n, n == 1
}

// ok ends a run of failures and returns how many it was (0 for none): a
// run that was logged is to be logged as over.
func (f *failures) ok() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.n
	f.n = 0
	return n
}
