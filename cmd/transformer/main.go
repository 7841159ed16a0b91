// Command transformer is the Spotify Pixel transformer: an HTTP service (serve)
// and a CLI (transform) on the same engine, plus container helpers
// (healthcheck, version).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "transformer:", err)
		os.Exit(exitCode(err))
	}
}

// run is the whole program, so that tests can start it with their own
// arguments, environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, getenv, stdout)
	case "transform":
		return runTransform(args, getenv, stdin, stdout)
	case "healthcheck":
		return runHealthcheck(ctx, args, getenv)
	case "version":
		return runVersion(stdout)
	}
	return usageError{fmt.Errorf("unknown command %q (commands: serve, transform, healthcheck, version)", cmd)}
}

// usageError marks errors in how the program was called (exit status 2).
type usageError struct{ error }

// Unwrap gives the flag error inside, for errors.Is and errors.As.
func (e usageError) Unwrap() error { return e.error }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}
