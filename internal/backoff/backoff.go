// Package backoff yields the delays between retries of the agents and the
// load balancer nodes: exponentially growing, with full jitter.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff yields delays that double from min up to max, each drawn
// uniformly from the upper half of the current step, so that many clients
// retrying at once spread out.
type Backoff struct {
	min, max, cur time.Duration
}

// New returns a Backoff from min to max.
func New(min, max time.Duration) *Backoff { return &Backoff{min: min, max: max, cur: min} }

// Next returns the next delay.
func (b *Backoff) Next() time.Duration {
	d := b.cur
	b.cur = min(b.cur*2, b.max)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// Reset starts again from min, after a success.
func (b *Backoff) Reset() { b.cur = b.min }
