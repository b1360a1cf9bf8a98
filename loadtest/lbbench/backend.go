package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runBackend serves n backends on 127.0.0.1, each answering every request
// with the same body, and prints "listening on ADDR ADDR…" once they all
// listen. It runs until SIGTERM or SIGINT.
func runBackend(args []string) int {
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	n := fs.Int("n", 2, "number of backends")
	size := fs.Int("body", 128, "size in bytes of the responses")
	if fs.Parse(args) != nil {
		return 2
	}
	body := []byte(strings.Repeat("x", max(0, *size-1)) + "\n")[:*size]
	length := strconv.Itoa(len(body))
	var addrs []string
	for range *n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "lbbench backend:", err)
			return 1
		}
		addrs = append(addrs, ln.Addr().String())
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h["Content-Type"] = []string{"text/plain"}
				h["Content-Length"] = []string{length}
				_, _ = w.Write(body)
			}),
			ReadHeaderTimeout: 10 * time.Second,
		}
		go func() { _ = srv.Serve(ln) }()
	}
	fmt.Println("listening on", strings.Join(addrs, " "))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	return 0
}
