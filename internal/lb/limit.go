package lb

import (
	"net"
	"sync/atomic"
	"time"
)

// ConnLimit bounds the client connections of all the listeners of the
// Servers that share it (Options.ConnLimit), so that the clients of the
// load balancers cannot take every file descriptor of the process, which
// they share with the API and the agents' links: at the bound, listeners
// stop accepting until a connection closes, and new clients wait in the
// kernel's backlog. A process that runs several Servers (one a region)
// makes one and gives it to each, the open file limit being the
// process's.
type ConnLimit struct {
	slots chan struct{} // one a connection open; nil when unbounded
}

// NewConnLimit returns a bound of max client connections; as
// Options.MaxConns, the default (defaultMaxConns) when max is 0 and no
// bound when it is negative.
func NewConnLimit(max int) *ConnLimit {
	if max == 0 {
		max = defaultMaxConns()
	}
	if max <= 0 {
		return &ConnLimit{}
	}
	return &ConnLimit{slots: make(chan struct{}, max)}
}

// Max returns the bound, 0 when there is none.
func (l *ConnLimit) Max() int { return cap(l.slots) }

// acquire takes a slot for a connection about to be accepted, waiting for
// one while every slot is taken; it reports false, having taken none, when
// stop is closed first.
func (l *ConnLimit) acquire(stop <-chan struct{}) bool {
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
func (l *ConnLimit) release() {
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
// sees it: Accept takes a slot of the limit first, which the connection
// gives back when it closes.
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
	return &slotConn{Conn: c, limit: l.k.limit}, nil
}

// slotConn is a client connection served by a socket's net/http server,
// which holds a slot of the limit until it closes: whoever closes it,
// net/http or, once it is hijacked (a protocol upgrade), the proxy that
// took it over, so that an upgraded connection keeps its slot as long as
// its file descriptors (its own and its target's).
type slotConn struct {
	net.Conn
	limit    *ConnLimit
	released atomic.Bool
}

// Close closes the connection and gives back its slot, once.
func (c *slotConn) Close() error {
	err := c.Conn.Close()
	if c.released.CompareAndSwap(false, true) {
		c.limit.release()
	}
	return err
}

// CloseWrite lets net/http half-close the connection before closing it, as
// it does on a *net.TCPConn.
func (c *slotConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
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
