package data

// An exclusive lock on a file: one job at a time in a run or shard
// directory.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// LockedError is LockFile's error when another process holds the lock.
type LockedError struct {
	Holder string // its pid, as the lock file records it, or "unknown"
}

func (e *LockedError) Error() string { return "locked by pid " + e.Holder }

// LockFile creates path if need be and takes an exclusive lock on it, held
// until release is called or the process ends (the kernel drops it even
// after SIGKILL); the file then records this process's pid. Another
// holder's lock is a *LockedError.
func LockFile(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if !lockHeld(err) { // no holder: a file system without locks, say
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		holder := strings.TrimSpace(string(b))
		if holder == "" {
			holder = "unknown"
		}
		return nil, &LockedError{Holder: holder}
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		f.Truncate(0) // no pid of a process that no longer holds it
		unlockFile(f)
		f.Close()
	}, nil
}

// lockFile is lockOS; tests stand in for the file system.
var lockFile = lockOS
