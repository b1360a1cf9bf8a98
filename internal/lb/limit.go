package lb

import (
	"net"
	"time"
)

// connLimit bounds the client connections of all the listeners of a
// Server together, so that the clients of the load balancers cannot take
// every file descriptor of the process, which it shares with the API and
// the agents' links: at the bound, listeners stop accepting until a
// connection closes, and new clients wait in the kernel's backlog.
type connLimit struct {
	slots chan struct{} // one a connection open; nil when unbounded
}

func newConnLimit(n int) *connLimit {
	if n <= 0 {
		return &connLimit{}
	}
	return &connLimit{slots: make(chan struct{}, n)}
}

// acquire takes a slot for a connection about to be accepted, waiting for
// one while every slot is taken; it reports false, having taken none, when
// stop is closed first.
func (l *connLimit) acquire(stop <-chan struct{}) bool {
	if l.slots == nil {
		return true
	}
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	select {
	case l.slots <- struct{}{}:
		return true
	case <-stop:
		return false
	}
}

// release gives back the slot of a connection that closed.
func (l *connLimit) release() {
	select {
	case <-l.slots: // nil when unbounded: never ready
	default:
	}
}

// fdHeadroom is how many of the process's file descriptors the default
// bound on client connections leaves to the rest of the process (the
// API's connections, the agents' links, the store, logs): a quarter of the
// limit, and at least 256.
func fdHeadroom(limit int) int { return max(256, limit/4) }

// defaultMaxConns is the bound on client connections when
// Options.MaxConns is 0: half of the file descriptors the headroom leaves,
// since each client connection may hold one to a target; unbounded (0)
// when the limit cannot be read.
func defaultMaxConns() int {
	limit := openFileLimit()
	if limit <= 0 {
		return 0
	}
	return max(1, (limit-fdHeadroom(limit))/2)
}

// limitedListener is an HTTPS socket's listener as its net/http server
// sees it: Accept takes a slot of the limit first, which the server's
// ConnState hook gives back.
type limitedListener struct {
	net.Listener
	k *socket
}

func (l *limitedListener) Accept() (net.Conn, error) {
	if !l.k.limit.acquire(l.k.stop) {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.k.limit.release()
		return nil, err
	}
	return c, nil
}

// headerTimeoutNow is how long a request's head may take to come, on a
// connection the socket serves itself: Options.ReadHeaderTimeout when set,
// else the load balancer's idle timeout, as it is now. (Its net/http
// server's connections count as idle until they have read a whole head,
// so that the sweep closes them at the idle timeout.)
func (k *socket) headerTimeoutNow() time.Duration {
	if k.headerTimeout > 0 {
		return k.headerTimeout
	}
	return k.table.Load().idleTimeout
}
