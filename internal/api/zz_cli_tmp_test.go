package api_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/flotilla/flotilla/internal/api"
)

func TestTmpServe(t *testing.T) {
	s := api.NewServer(api.Config{Credentials: credentials, Region: region})
	s.HandleJSON(toyECS())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("/tmp/tmpserve.addr", []byte(l.Addr().String()), 0o644)
	fmt.Println("listening", l.Addr())
	go http.Serve(l, s.Handler())
	time.Sleep(90 * time.Second)
}
