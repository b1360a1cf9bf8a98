//go:build linux

package lb

import (
	"context"
	"io"
	"iter"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event loops. On Linux the connections a plain HTTP socket serves itself,
// and their connections to targets, are served the way nginx serves them:
// by a few event loops (one per Go processor), each with a thread waiting
// in epoll_wait on its own epoll set (see wait), rather than by a
// goroutine per connection waiting in Go's netpoller. A connection's code
// is the same either way (clientConn.serve and everything it calls): it
// runs as a coroutine (iter.Pull) of its loop, and its reads and writes
// (coConn) switch back to the loop when they would block, which resumes
// it when epoll reports the socket ready.
// What that saves, per request, against a goroutine per connection: the
// read that finds nothing and parks the goroutine (epoll is edge-triggered,
// and a read that returns less than it asked for is known to have emptied
// the socket, so the next one waits for the next edge without a system
// call), the scheduler's wake-ups of goroutines and of the threads that run
// them, and the spinning of idle threads looking for work
// (docs/performance.md).
//
// A connection leaves its loop, for a goroutine of its own that finishes
// its life, before anything that would block the loop other than its own
// sockets: the requests that go through httputil.ReverseProxy (bodies,
// upgrades, HTTPS targets), a target whose address is not an IP address,
// and the hand-over of a connection to net/http.

// loopsSupported reports whether event loops exist on this platform.
const loopsSupported = true

// evloop is an event loop.
type evloop struct {
	id    int
	epfd  int
	efd   int // eventfd: wakes the loop for work posted to it
	log   *slog.Logger
	conns map[int32]*coConn // registered, by descriptor
	coros map[*coro]struct{}
	cur   *coro // the coroutine running, nil between them
	inCo  atomic.Bool
	timed map[*coConn]struct{} // waited on with a deadline
	ready []*coConn            // whose waiter is to be resumed: a deadline moved

	mu      sync.Mutex
	inbox   []func()
	spare   []func()
	stopped bool        // asked to end
	ended   bool        // ended: nothing posted runs
	woken   atomic.Bool // a wake-up is on its way

	events [128]unix.EpollEvent
	done   chan struct{}
}

// coro is a connection's coroutine.
type coro struct {
	next  func() (struct{}, bool)
	stop  func()
	yield func(struct{}) bool
	free  bool // leaving its loop: to be run by a goroutine of its own
}

// newLoops starts n event loops, their goroutines counted in wg, and
// leaves the rest of the program a processor while they all wait (see
// wait).
func newLoops(n int, log *slog.Logger, wg *sync.WaitGroup) ([]*evloop, error) {
	leaveProcessor(n)
	loops := make([]*evloop, 0, n)
	for i := range n {
		lp, err := newLoop(i, log)
		if err != nil {
			for _, lp := range loops {
				lp.stop()
			}
			return nil, err
		}
		loops = append(loops, lp)
		wg.Go(lp.run)
	}
	return loops, nil
}

func newLoop(id int, log *slog.Logger) (*evloop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(efd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return &evloop{
		id: id, epfd: epfd, efd: efd, log: log,
		conns: map[int32]*coConn{}, coros: map[*coro]struct{}{}, timed: map[*coConn]struct{}{},
		done: make(chan struct{}),
	}, nil
}

// post has f run on the loop, and reports false, having done nothing,
// once the loop has ended.
func (lp *evloop) post(f func()) bool {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.ended {
		return false
	}
	lp.inbox = append(lp.inbox, f)
	// A coroutine of the loop posting, or any goroutine while one runs:
	// the loop looks at its inbox before it waits again. The wake-up is
	// written with mu held, so that it never goes to an eventfd the
	// loop's end closed.
	if !lp.inCo.Load() {
		lp.wake()
	}
	return true
}

func (lp *evloop) wake() {
	if lp.woken.Swap(true) {
		return
	}
	one := [8]byte{1}
	_, _ = unix.Write(lp.efd, one[:])
}

// stop ends the loop: the connections still on it are closed.
func (lp *evloop) stop() {
	lp.mu.Lock()
	lp.stopped = true
	lp.mu.Unlock()
	lp.wake()
	<-lp.done
}

func (lp *evloop) run() {
	defer close(lp.done)
	for {
		lp.mu.Lock()
		work, stopped := lp.inbox, lp.stopped
		lp.inbox, lp.spare = lp.spare[:0], nil
		lp.mu.Unlock()
		for i, f := range work {
			f()
			work[i] = nil
		}
		lp.spare = work[:0]
		lp.resumeReady()
		if len(work) > 0 {
			// The coroutines it resumed may have posted more, without a
			// wake-up: look again before waiting.
			continue
		}
		if stopped {
			lp.shutdown()
			return
		}
		n, err := lp.wait()
		if err != nil {
			// Nothing can make this loop wait again: its connections
			// fail, and new ones are not given to it.
			lp.log.Error("event loop failed", "loop", lp.id, "err", os.NewSyscallError("epoll_wait", err))
			lp.shutdown()
			return
		}
		for i := range n {
			ev := &lp.events[i]
			if ev.Fd == int32(lp.efd) {
				// Read, then let the next post wake the loop again: the other
				// way round, a wake-up written between the two would be read
				// here, and the next ones skipped.
				var b [8]byte
				_, _ = unix.Read(lp.efd, b[:])
				lp.woken.Store(false)
				continue
			}
			if c := lp.conns[ev.Fd]; c != nil {
				lp.event(c, ev.Events)
			}
		}
		if len(lp.timed) > 0 {
			lp.expire()
		}
	}
}

// event records what epoll reported of c, and resumes the coroutine
// waiting for it. A client going away while its request waits on a target
// cancels the request.
func (lp *evloop) event(c *coConn, events uint32) {
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.rready = true
	}
	if events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.wready = true
	}
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.eof = true
	}
	if co := c.waiter; co != nil {
		if c.waitWrite && c.wready || !c.waitWrite && c.rready {
			lp.resume(co)
		}
		return
	}
	switch cc := c.cc; {
	case cc == nil:
	case events&(unix.EPOLLHUP|unix.EPOLLERR) != 0:
		cc.clientGone() // reset: nothing can reach it any more
	case events&unix.EPOLLRDHUP != 0:
		// Closed, or only shut for writing by a client still reading:
		// as net/http and the goroutine path do (watchClient), the
		// request is canceled only once it has run a sweep interval,
		// which the sweep sees to.
		cc.peerShut.Store(true)
	}
}

// resume runs co until it waits again or ends.
func (lp *evloop) resume(co *coro) {
	lp.cur = co
	lp.inCo.Store(true)
	_, ok := co.next()
	lp.inCo.Store(false)
	lp.cur = nil
	switch {
	case !ok:
		delete(lp.coros, co)
	case co.free:
		delete(lp.coros, co)
		go func() {
			// Its connections are no longer the loop's: it runs to its end.
			for {
				if _, ok := co.next(); !ok {
					return
				}
			}
		}()
	}
}

// resumeReady resumes the waiters of the connections whose deadline moved.
func (lp *evloop) resumeReady() {
	for i := 0; i < len(lp.ready); i++ { // resuming may add to it
		if co := lp.ready[i].waiter; co != nil {
			lp.resume(co)
		}
	}
	clear(lp.ready)
	lp.ready = lp.ready[:0]
}

// wait waits for events, or for the first deadline of the connections
// waited on, and returns how many events there are.
//
// It first asks without waiting, as a raw system call. When there is
// nothing, the loop's thread waits in epoll_wait itself, as a system call
// Go's scheduler is told of, and the kernel wakes that thread when an
// event comes, as it wakes an nginx worker. The scheduler leaves a
// processor to a thread in a system call as long as some other processor
// is idle (sysmon hands it on only when none is, or after 10 ms), which
// leaveProcessor sees to: the loop goes on with its own processor, no
// other thread woken. Parking the loop goroutine in Go's netpoller, as
// the loops did before, took a wake-up of the netpoller's thread and,
// when both loops had events, of a second thread for the second loop:
// the host sat idle 1–2 µs longer per request than with nginx, and the
// p99 was 1.02–1.19× nginx's (median 1.13×) where it is now 0.93–1.10×
// (median 0.98×; docs/performance.md).
func (lp *evloop) wait() (int, error) {
	n, err := rawEpollWait(lp.epfd, lp.events[:])
	if n > 0 || err != nil && err != unix.EINTR {
		return n, err
	}
	timeout := -1
	var dl time.Time
	for c := range lp.timed {
		if d := c.deadline(); dl.IsZero() || d.Before(dl) {
			dl = d
		}
	}
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return 0, nil
		}
		timeout = int((d + time.Millisecond - 1) / time.Millisecond)
	}
	n, err = unix.EpollWait(lp.epfd, lp.events[:], timeout)
	if err == unix.EINTR {
		return 0, nil
	}
	return n, err
}

// procsBefore is GOMAXPROCS as it was before event loops raised it:
// leaveProcessor reads it before it raises it.
var (
	procsMu     sync.Mutex
	procsBefore = sync.OnceValue(func() int { return runtime.GOMAXPROCS(0) })
)

// leaveProcessor raises GOMAXPROCS, if need be, to one more than loops,
// so that a processor is idle while every loop waits in epoll_wait (see
// wait) and the rest of the program has one to run on then. It never
// lowers it; a process with several Servers has their loops share.
func leaveProcessor(loops int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	procsBefore()
	if runtime.GOMAXPROCS(0) <= loops {
		runtime.GOMAXPROCS(loops + 1)
	}
}

// defaultLoops is how many event loops a Server has when its options do
// not say: one per processor the program had.
func defaultLoops() int { return procsBefore() }

// expire resumes the waiters whose deadline passed.
func (lp *evloop) expire() {
	now := time.Now()
	for c := range lp.timed {
		if dl := c.deadline(); !dl.IsZero() && !now.Before(dl) {
			lp.ready = append(lp.ready, c)
		}
	}
	lp.resumeReady()
}

// start runs the client connection c's coroutine.
func (lp *evloop) start(c *coConn) {
	if c.fd >= 0 && lp.register(c) != nil {
		c.closeReq.Store(true) // its first read fails, which ends it
		_ = unix.Close(c.fd)
		c.fd = -1
	}
	cc := c.cc
	co := &coro{}
	co.next, co.stop = iter.Pull(func(yield func(struct{}) bool) {
		co.yield = yield
		cc.serve()
	})
	lp.coros[co] = struct{}{}
	lp.resume(co)
}

func (lp *evloop) register(c *coConn) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.fd)}
	if err := unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	lp.conns[int32(c.fd)] = c
	return nil
}

// closeNow closes c on the loop, once its waiter, if any, saw it closed.
func (lp *evloop) closeNow(c *coConn) {
	if c.fd >= 0 && c.waiter != nil {
		lp.resume(c.waiter)
	}
	if c.fd < 0 {
		return
	}
	delete(lp.conns, int32(c.fd))
	delete(lp.timed, c)
	// Out of the set first: were the socket open elsewhere (a child
	// process not yet exec'd), its events would go on under a number
	// another connection may get.
	_ = unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	_ = unix.Close(c.fd)
	c.fd = -1
}

// shutdown closes every connection of the stopped loop and ends its
// coroutines.
func (lp *evloop) shutdown() {
	for _, c := range lp.conns {
		c.closeReq.Store(true)
	}
	for _, c := range lp.conns {
		lp.closeNow(c)
	}
	for co := range lp.coros {
		co.stop() // its waits fail: it runs to its end
	}
	lp.mu.Lock()
	lp.ended, lp.stopped = true, true
	lp.inbox = nil
	lp.mu.Unlock()
	for _, c := range lp.conns { // made by the coroutines' ends
		_ = unix.Close(c.fd)
		c.fd = -1
	}
	_ = unix.Close(lp.epfd)
	_ = unix.Close(lp.efd)
}

// coConn is a non-blocking TCP socket of an event loop, used by the loop's
// coroutines as a net.Conn: an I/O that would block switches back to the
// loop until epoll reports the socket ready, or its deadline passes. Only
// Close may be called from other goroutines.
type coConn struct {
	lp       *evloop
	fd       int // -1 once closed or detached
	laddr    net.Addr
	raddr    net.Addr
	cc       *clientConn // when it is a client's connection
	closeReq atomic.Bool

	rready, wready bool // epoll reported it readable (writable) since the last EAGAIN
	eof            bool // the peer closed or reset: reads no longer wait
	outArmed       bool // EPOLLOUT is in its events
	rdl, wdl       time.Time
	waiter         *coro
	waitWrite      bool
}

func (c *coConn) deadline() time.Time {
	if c.waitWrite {
		return c.wdl
	}
	return c.rdl
}

func (c *coConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: err}
}

func (c *coConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.fd < 0 || c.closeReq.Load() {
			return 0, c.opError("read", net.ErrClosed)
		}
		if !c.rdl.IsZero() && !time.Now().Before(c.rdl) {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		if c.rready || c.eof {
			n, err := rawRead(c.fd, p)
			switch {
			case n > 0:
				if n < len(p) {
					c.rready = false // the socket is empty: wait for the next edge
				}
				return n, nil
			case err == nil:
				return 0, io.EOF
			case err == unix.EINTR:
				continue
			case err != unix.EAGAIN:
				return 0, c.opError("read", os.NewSyscallError("read", err))
			}
			c.rready, c.eof = false, false
		}
		if err := c.wait(false); err != nil {
			return 0, c.opError("read", err)
		}
	}
}

func (c *coConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		if c.fd < 0 || c.closeReq.Load() {
			return written, c.opError("write", net.ErrClosed)
		}
		if !c.wdl.IsZero() && !time.Now().Before(c.wdl) {
			return written, c.opError("write", os.ErrDeadlineExceeded)
		}
		n, err := rawWrite(c.fd, p[written:])
		if n > 0 {
			written += n
			continue
		}
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
		default:
			return written, c.opError("write", os.NewSyscallError("write", err))
		}
		if err := c.waitWritable(); err != nil {
			return written, c.opError("write", err)
		}
	}
	if c.outArmed {
		c.armOut(false)
	}
	return written, nil
}

// waitWritable waits for epoll to report c writable.
func (c *coConn) waitWritable() error {
	c.wready = false
	if !c.outArmed {
		if err := c.armOut(true); err != nil {
			return err
		}
	}
	for !c.wready {
		if !c.wdl.IsZero() && !time.Now().Before(c.wdl) {
			return os.ErrDeadlineExceeded
		}
		if err := c.wait(true); err != nil {
			return err
		}
		if c.fd < 0 || c.closeReq.Load() {
			return net.ErrClosed
		}
	}
	return nil
}

// armOut adds EPOLLOUT to c's events, or removes it: it is there only
// while a write waits, so that the acknowledgements of what was sent do
// not wake the loop.
func (c *coConn) armOut(on bool) error {
	events := uint32(unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET)
	if on {
		events |= unix.EPOLLOUT
	}
	ev := unix.EpollEvent{Events: events, Fd: int32(c.fd)}
	if err := unix.EpollCtl(c.lp.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	c.outArmed = on
	return nil
}

// wait switches to the loop until c's waiter is resumed: epoll reported
// it ready, its deadline passed or moved, or it was closed.
func (c *coConn) wait(write bool) error {
	lp := c.lp
	co := lp.cur
	if co == nil {
		return errOffLoop
	}
	c.waiter, c.waitWrite = co, write
	timed := !c.deadline().IsZero()
	if timed {
		lp.timed[c] = struct{}{}
	}
	ok := co.yield(struct{}{})
	c.waiter = nil
	if timed {
		delete(lp.timed, c)
	}
	if !ok {
		return net.ErrClosed // the loop stopped
	}
	return nil
}

// errOffLoop fails the I/O of a coConn from outside its loop's coroutines.
var errOffLoop = &net.OpError{Op: "wait", Net: "tcp", Err: os.ErrInvalid}

// Close closes the connection: at once for its I/O, on the loop for its
// socket. It may be called from any goroutine.
func (c *coConn) Close() error {
	if c.closeReq.Swap(true) {
		return nil
	}
	lp := c.lp
	lp.post(func() { lp.closeNow(c) })
	return nil
}

func (c *coConn) LocalAddr() net.Addr {
	if c.laddr == nil && c.fd >= 0 {
		if sa, err := unix.Getsockname(c.fd); err == nil {
			c.laddr = sockaddrToTCP(sa)
		}
	}
	return c.laddr
}

func (c *coConn) RemoteAddr() net.Addr { return c.raddr }

func (c *coConn) SetDeadline(t time.Time) error {
	c.rdl, c.wdl = t, t
	c.deadlineMoved()
	return nil
}

func (c *coConn) SetReadDeadline(t time.Time) error {
	c.rdl = t
	c.deadlineMoved()
	return nil
}

func (c *coConn) SetWriteDeadline(t time.Time) error {
	c.wdl = t
	c.deadlineMoved()
	return nil
}

// deadlineMoved has a waiter on c look at its deadline again; it is called
// on the loop (by a coroutine, or by the loop breaking a request off).
func (c *coConn) deadlineMoved() {
	if c.waiter != nil {
		c.lp.ready = append(c.lp.ready, c)
	}
}

// detach takes c off its loop, as a net.Conn of Go's netpoller.
func (c *coConn) detach() (net.Conn, error) {
	if c.fd < 0 || c.closeReq.Swap(true) {
		return nil, c.opError("detach", net.ErrClosed)
	}
	lp, fd := c.lp, c.fd
	delete(lp.conns, int32(fd))
	delete(lp.timed, c)
	_ = unix.EpollCtl(lp.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	c.fd = -1
	f := os.NewFile(uintptr(fd), "tcp")
	nc, err := net.FileConn(f) // a duplicate of fd
	_ = f.Close()
	return nc, err
}

func sockaddrToTCP(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
	}
	return nil
}

// adoptInLoop moves a client connection just accepted to an event loop,
// and serves it there. It reports false, having done nothing, when c
// cannot be moved.
func (k *socket) adoptInLoop(c net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	if !ok || len(k.loops) == 0 {
		return false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	var derr error
	if err := raw.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || derr != nil {
		return false
	}
	lc := &coConn{fd: fd, laddr: c.LocalAddr(), raddr: c.RemoteAddr(), rready: true}
	_ = c.Close() // the duplicate keeps the socket open
	lp := k.loops[int(k.nextLoop.Add(1))%len(k.loops)]
	lc.lp = lp
	cc := k.track(lc, lp)
	if cc == nil {
		_ = unix.Close(fd)
		k.limit.release()
		return true
	}
	lc.cc = cc
	if !lp.post(func() { lp.start(lc) }) {
		// The loop ended (the server closes, or its epoll failed).
		_ = unix.Close(fd)
		k.untrack(cc)
	}
	return true
}

// leaveLoop moves the connection, served by a coroutine of a loop, to a
// goroutine of its own, with what it had buffered; it is a no-op for a
// connection not on a loop.
func (cc *clientConn) leaveLoop() error {
	lc := cc.lc
	if lc == nil {
		return nil
	}
	if err := cc.bw.Flush(); err != nil {
		return err
	}
	co := lc.lp.cur
	f := &cc.k.fast
	f.mu.Lock()
	nc, err := lc.detach()
	if err == nil {
		cc.c, cc.cr.c = nc, nc
		cc.bw.Reset(nc)
		cc.lc, cc.lp = nil, nil
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	co.free = true
	co.yield(struct{}{}) // resumed by the goroutine the loop starts
	return nil
}

// dialLoop connects to t from a coroutine of lp.
func (t *target) dialLoop(ctx context.Context, lp *evloop) (net.Conn, error) {
	if t.cut.Load() {
		return nil, errTargetCut
	}
	deadline := time.Now().Add(t.tg.deps.opts.ConnectTimeout)
	raddr := net.TCPAddrFromAddrPort(t.addr)
	fail := func(call string, err error) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: os.NewSyscallError(call, err)}
	}
	ip := t.addr.Addr()
	family := unix.AF_INET6
	var sa unix.Sockaddr
	if ip.Is4() || ip.Is4In6() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(t.addr.Port()), Addr: ip.Unmap().As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(t.addr.Port()), Addr: ip.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail("socket", err)
	}
	// As Go's dialer: no Nagle, keep-alive probes after 30 s idle.
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 30)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 30)
	c := &coConn{lp: lp, fd: fd, raddr: raddr}
	if err := lp.register(c); err != nil {
		_ = unix.Close(fd)
		c.fd = -1
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
	}
	if !time.Now().Before(deadline) {
		c.closeFromLoop()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: os.ErrDeadlineExceeded}
	}
	err = unix.Connect(fd, sa)
	if err == unix.EINPROGRESS {
		c.wdl = deadline
		// A client going away ends the wait, as it ends DialContext's.
		stop := context.AfterFunc(ctx, func() {
			lp.post(func() { _ = c.SetWriteDeadline(aLongTimeAgo) })
		})
		werr := c.waitWritable()
		stop()
		if err := ctx.Err(); err != nil {
			c.closeFromLoop()
			return nil, err
		}
		if err := werr; err != nil {
			c.closeFromLoop()
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
		}
		c.wdl = time.Time{}
		if c.outArmed {
			_ = c.armOut(false)
		}
		var soerr int
		soerr, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soerr != 0 {
			err = unix.Errno(soerr)
		}
	}
	if err != nil {
		c.closeFromLoop()
		return fail("connect", err)
	}
	if err := ctx.Err(); err != nil {
		c.closeFromLoop()
		return nil, err
	}
	c.rready, c.wready = true, true
	return t.conns.track(c), nil
}

// closeFromLoop closes c from a coroutine of its loop, at once.
func (c *coConn) closeFromLoop() {
	c.closeReq.Store(true)
	c.lp.closeNow(c)
}

// The loop's reads, writes and the epoll_wait that only looks never
// block: they are made as raw system calls, without telling the
// scheduler. A loopback write takes tens of microseconds of the kernel's
// network stack, and a system call the scheduler is told of that lasts
// over a sysmon tick (20 µs) has its processor handed to another thread
// when none is idle, woken for it, which finds nothing to do and sleeps
// again; and telling the scheduler costs something of its own. Only the
// epoll_wait that waits (wait) is a system call the scheduler knows of.

func rawRead(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawEpollWait is epoll_pwait that does not wait (see wait).
func rawEpollWait(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
