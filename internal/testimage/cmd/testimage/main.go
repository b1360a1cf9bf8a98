// Command testimage builds flotilla/testapp:latest, the FROM-scratch image
// of Flotilla's test workload (cmd/testapp), through the Docker Engine API:
// a container image to try Flotilla with on a machine with no registry.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/flotilla/flotilla/internal/testimage"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := testimage.Ensure(ctx, testimage.Tag); err != nil {
		fmt.Fprintln(os.Stderr, "testimage:", err)
		os.Exit(1)
	}
	fmt.Println(testimage.Tag)
}
