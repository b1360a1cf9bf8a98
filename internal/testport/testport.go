// Package testport hands tests TCP ports to listen on.
package testport

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
)

// The ports handed out come from below Linux's default ephemeral range
// (32768–60999), out of which the kernel picks the local port of every
// outgoing connection and Docker the host port of every container port
// published without one. A port picked by listening on port 0 and closing
// comes from that range, and between the close and the test's own listen
// any connection made on the machine (the tests make thousands) may take
// it as its local port, and the test's listen then fails.
const (
	low  = 20000
	high = 32768
)

var (
	mu     sync.Mutex
	handed = map[int]bool{}
)

// Free returns a port that nothing listens on, on 127.0.0.1 or on any
// address, and that Free has not returned before in this process.
func Free(t testing.TB) int {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	for range 1000 {
		p := low + rand.IntN(high-low)
		if handed[p] || !bindable(p) {
			continue
		}
		handed[p] = true
		return p
	}
	t.Fatalf("testport: no free port in %d–%d", low, high-1)
	return 0
}

// bindable reports whether p can be listened on, both on the loopback
// address and on all addresses.
func bindable(p int) bool {
	for _, host := range []string{"127.0.0.1", "0.0.0.0"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		_ = ln.Close()
	}
	return true
}
