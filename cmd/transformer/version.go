package main

import (
	"fmt"
	"io"
	"runtime"
)

func runVersion(stdout io.Writer) error {
	_, err := fmt.Fprintf(stdout, "transformer %s (commit %s, %s)\n", version, commit, runtime.Version())
	return err
}
