package data

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockRegion is the byte range locked: one byte far beyond the pid the file
// holds, since Windows locks are mandatory and would stop a second process
// from reading who holds the lock.
var lockRegion = windows.Overlapped{OffsetHigh: 1 << 30}

// lockOS takes an exclusive lock on f without waiting.
func lockOS(f *os.File) error {
	ol := lockRegion
	return windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
}

func unlockFile(f *os.File) {
	ol := lockRegion
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// lockHeld reports whether err, from lockOS, means another holder has the
// lock (and not a file system without locks, say).
func lockHeld(err error) bool { return errors.Is(err, windows.ERROR_LOCK_VIOLATION) }
