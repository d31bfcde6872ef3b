//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// lockShared opens the lock file and holds a shared flock on it for as long
// as the file stays open; the kernel drops it when the process dies, however
// it dies. If the lock can first be taken exclusively, no other process has
// the outbox open: whileExclusive runs then, before the downgrade, so a
// process starting meanwhile cannot claim jobs it would re-queue.
//
// flock, not fcntl: fcntl locks belong to the process and vanish when any of
// its descriptors of the file closes, and two Stores in one process would
// not see each other.
func lockShared(path string, whileExclusive func()) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	switch err := flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); {
	case err == nil:
		whileExclusive()
	case errors.Is(err, syscall.EWOULDBLOCK):
	default:
		f.Close()
		return nil, &fs.PathError{Op: "flock", Path: path, Err: err}
	}
	// Waits while another process is in its own exclusive phase.
	if err := flock(fd, syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "flock", Path: path, Err: err}
	}
	return f, nil
}

func flock(fd, how int) error {
	for {
		if err := syscall.Flock(fd, how); err != syscall.EINTR {
			return err
		}
	}
}
