package testport

import (
	"net"
	"strconv"
	"testing"
)

// TestFree checks that the ports are distinct, out of the ephemeral range,
// and can be listened on; and that a port something listens on is not
// handed out.
func TestFree(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := Free(t)
		if p < low || p >= high || seen[p] {
			t.Fatalf("Free = %d: out of range or seen before", p)
		}
		seen[p] = true
	}
	p := Free(t)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("listen on a free port: %v", err)
	}
	defer ln.Close()
	if bindable(p) {
		t.Fatalf("port %d is listened on, but bindable says it is free", p)
	}
}
