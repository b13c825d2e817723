//go:build unix

package data

import (
	"errors"
	"os"
	"syscall"
)

// lockOS takes an exclusive flock on f without waiting.
func lockOS(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

func unlockFile(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// lockHeld reports whether err, from lockOS, means another holder has the
// lock (and not a file system without locks, say).
func lockHeld(err error) bool { return errors.Is(err, syscall.EWOULDBLOCK) }
