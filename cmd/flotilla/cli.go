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
  flotilla up       [flags]   run everything on this machine: the server and an agent
  flotilla server   [flags]   run the control plane: the ECS API over a durable store
  flotilla agent    [flags]   make this host a container instance of a cluster
  flotilla lb       [flags]   serve the load balancers' listeners from a server's state
  flotilla version            print the version

Run 'flotilla <command> -h' for the flags.
`

// run dispatches a command line to a subcommand.
func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "agent":
		return runAgent(ctx, args[1:], os.Stderr)
	case "lb":
		return runLB(ctx, args[1:], os.Stderr)
	case "server", "up":
		cfg := DefaultConfig()
		fs := flag.NewFlagSet("flotilla "+args[0], flag.ContinueOnError)
		cfg.RegisterFlags(fs)
		acfg := DefaultAgentConfig()
		if args[0] == "up" {
			acfg.RegisterFlags(fs, false)
		}
		if run, err := parseFlags(fs, args[1:]); !run {
			return err
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		m := NewMain(cfg, os.Stdout, os.Stderr)
		if args[0] == "up" {
			m.Agent = &acfg
		}
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

// parseFlags parses a subcommand's arguments. run is false when there is
// nothing to run: the user asked for help (err nil), or the arguments are
// wrong (err says how); positional arguments are wrong.
func parseFlags(fs *flag.FlagSet, args []string) (run bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, nil
		}
		return false, err
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return true, nil
}
