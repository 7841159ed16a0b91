//go:build linux

package destinations

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readWhole reads path under a read lease, which Linux grants only while no
// process has the file open for writing and breaks as soon as one opens it:
// so a file rewritten in place is never read half-written. Where no lease
// can be taken (a file of another owner without CAP_LEASE, a file system
// without leases) it reads the file without that guarantee.
func readWhole(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only: closing loses nothing
	fd := f.Fd()
	if _, err := unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EBUSY) {
			return nil, errBeingWritten
		}
		return io.ReadAll(f)
	}
	// Closing the file releases the lease too; this only releases it sooner.
	defer func() { _, _ = unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK) }()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	// A writer that opened the file during the read breaks the lease.
	if t, err := unix.FcntlInt(fd, unix.F_GETLEASE, 0); err == nil && t != unix.F_RDLCK {
		return nil, errBeingWritten
	}
	return data, nil
}
