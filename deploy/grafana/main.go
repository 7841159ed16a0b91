package main

import (
	"fmt"
	"os"
)

// outFile is where the dashboard is written, relative to this directory.
const outFile = "transformer.json"

func main() {
	out, err := render()
	if err == nil {
		err = os.WriteFile(outFile, out, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "grafana:", err)
		os.Exit(1)
	}
}
