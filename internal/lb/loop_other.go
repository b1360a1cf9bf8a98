//go:build !linux

package lb

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
)

// Event loops are Linux's (loop_linux.go); elsewhere every connection the
// sockets serve themselves has a goroutine of its own.

const loopsSupported = false

type evloop struct{ id int }

type coConn struct{ net.Conn }

func newLoops(int, *slog.Logger, *sync.WaitGroup) ([]*evloop, error) { return nil, nil }

func (lp *evloop) stop() {}

func (k *socket) adoptInLoop(net.Conn) bool { return false }

func (cc *clientConn) leaveLoop() error { return nil }

func (t *target) dialLoop(context.Context, *evloop) (net.Conn, error) {
	return nil, errors.New("lb: no event loops on this platform")
}

func (lp *evloop) post(func()) bool { return false }

func defaultLoops() int { return 0 }
