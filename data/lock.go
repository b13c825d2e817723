package data

// An exclusive lock on a file: one job at a time in a run or shard
// directory.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// LockHeld reports whether a process holds the lock file at path, and its
// pid; false where there is no such file (the probe creates none) or no one
// holds it (the probe takes and releases it).
func LockHeld(path string) (holder string, held bool) {
	if _, err := os.Stat(path); err != nil {
		return "", false
	}
	release, err := LockFile(path)
	var le *LockedError
	if errors.As(err, &le) {
		return le.Holder, true
	}
	if err == nil {
		release()
	}
	return "", false
}

// RemoveCreated removes dir, which a job created for its output, when the
// job failed having written nothing there but its lock file lock, held
// through unlock (which it calls): the lock file goes while the lock is
// held (and again after, where an open file cannot be removed), so a job
// that took the lock since has its own file there, which keeps the
// directory; then dir and the directories above it up to top, which the
// job created too, as far as they are empty. A dir holding anything else is
// kept, and everything above it.
func RemoveCreated(dir, top, lock string, unlock func()) {
	dir = filepath.Clean(dir) // as the paths made from it are
	entries, err := os.ReadDir(dir)
	if err != nil {
		unlock()
		return
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(lock) {
			unlock()
			return
		}
	}
	os.Remove(lock)
	unlock()
	os.Remove(lock)
	for d := dir; ; d = filepath.Dir(d) {
		if os.Remove(d) != nil || d == filepath.Clean(top) {
			return
		}
	}
}
