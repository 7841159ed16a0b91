//go:build !linux

package destinations

import "os"

// readWhole reads path; only Linux can tell that a writer still holds the
// file open, so elsewhere an in-place rewrite is guarded by the watcher's
// settle delay alone.
func readWhole(path string) ([]byte, error) { return os.ReadFile(path) }
