// Command flotilla is Flotilla's one binary: the control plane (server), the
// single-machine bundle (up) and, later, the agent, load balancer and DNS.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "flotilla:", err)
		os.Exit(1)
	}
}
