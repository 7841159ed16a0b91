package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"spotifypixel/internal/destinations"
	"spotifypixel/internal/pipeline"
)

// runTransform reads a /transform request body from a file or stdin and
// prints the response, exactly as POST /transform would answer it.
func runTransform(args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("transform", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: transformer transform [-destinations FILE] [-destination ID] [-include beacons,capi] [-explain] [-pretty] [FILE|-]")
		fs.PrintDefaults()
	}
	destFile := fs.String("destinations", "", "destinations file, JSON or YAML (env TRANSFORMER_DESTINATIONS; empty: the embedded demo destination)")
	destID := fs.String("destination", "", "configured destination to use when the body carries no destination.Config")
	include := fs.String("include", "", "extra outputs, comma-separated: beacons, capi")
	explain := fs.Bool("explain", false, "add each result's decision steps (explain), as ?explain=1 does")
	pretty := fs.Bool("pretty", false, "indent the JSON output for reading")
	beaconURL := fs.String("beacon-url", "", "base URL of beacons (env TRANSFORMER_BEACON_URL; empty: Spotify's image pixel)")
	if err := parseFlags(fs, args, getenv, map[string]string{"destinations": "TRANSFORMER_DESTINATIONS", "beacon-url": "TRANSFORMER_BEACON_URL"}); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError{fmt.Errorf("transform takes at most one input file, got %d", fs.NArg())}
	}
	set, err := destinations.Load(*destFile)
	if err != nil {
		return err
	}
	body, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	out, _, err := new(pipeline.Runner).Transform(nil, set, body, pipeline.Query{DestinationID: *destID, Include: *include, BeaconURL: *beaconURL, Explain: *explain})
	if err != nil {
		return err
	}
	if *pretty {
		var buf bytes.Buffer
		if err := json.Indent(&buf, out, "", "  "); err != nil {
			return fmt.Errorf("indenting output: %w", err)
		}
		out = buf.Bytes()
	}
	_, err = stdout.Write(out)
	return err
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "" || name == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	return b, nil
}

// parseFlags parses args, then gives every flag not set on the command line
// the value of its environment variable, when that is set.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, env map[string]string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, key := range env {
		if v := getenv(key); v != "" && !set[name] {
			if err := fs.Set(name, v); err != nil {
				return usageError{fmt.Errorf("%s=%q: %w", key, v, err)}
			}
		}
	}
	return nil
}
