package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/flotilla/flotilla"
)

const usage = `flotilla: a self-hosted container orchestrator that speaks Amazon ECS's API.

Usage:
  flotilla up       [flags]   run everything on this machine (today: the server)
  flotilla server   [flags]   run the control plane: the ECS API over a durable store
  flotilla version            print the version

Run 'flotilla server -h' for the flags.
`

// run dispatches a command line to a subcommand.
func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "server", "up":
		cfg := DefaultConfig()
		fs := flag.NewFlagSet("flotilla "+args[0], flag.ContinueOnError)
		cfg.RegisterFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		m := NewMain(cfg, os.Stdout, os.Stderr)
		return m.Run(ctx)
	case "version", "--version", "-v":
		printVersion(os.Stdout)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "flotilla %s (ECS API 2014-11-13, %s, %s/%s)\n", flotilla.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
