package data

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockRegion is the byte range locked: one byte far beyond the pid the file
// holds, since Windows locks are mandatory and would stop a second process
// from reading who holds the lock.
var lockRegion = windows.Overlapped{OffsetHigh: 1 << 30}

// lockFile takes an exclusive lock on f without waiting.
func lockFile(f *os.File) error {
	ol := lockRegion
	return windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
}

func unlockFile(f *os.File) {
	ol := lockRegion
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}
