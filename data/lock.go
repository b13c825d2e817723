package data

// An exclusive lock on a file: one job at a time in a run or shard
// directory.

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
// holder's lock is a *LockedError. A lock taken on a file that was removed
// from path meanwhile (a job that gave up the directory, RemoveCreated) is
// let go and taken again on the file there now.
func LockFile(path string) (release func(), err error) {
	for try := 0; ; try++ {
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
			return nil, &LockedError{Holder: cmp.Or(strings.TrimSpace(string(b)), "unknown")}
		}
		if !stillAt(f, path) && try < 10 {
			unlockFile(f)
			f.Close()
			continue
		}
		f.Truncate(0)
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		return func() {
			f.Truncate(0) // no pid of a process that no longer holds it
			unlockFile(f)
			f.Close()
		}, nil
	}
}

// stillAt reports whether the open file f is the file at path.
func stillAt(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// lockFile is lockOS; tests stand in for the file system.
var lockFile = lockOS

// LockHeld reports whether a process holds the lock file at path, and its
// pid; false where there is no such file (the probe creates none) or no one
// holds it (the probe takes and lets go of it, so that a job taking it at
// that instant is refused as by a holder).
func LockHeld(path string) (holder string, held bool) {
	f, err := os.Open(path) // read-only: a lock file of another user's is read too
	if err != nil {
		return "", false
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		if !lockHeld(err) {
			return "", false
		}
		b, _ := os.ReadFile(path)
		return cmp.Or(strings.TrimSpace(string(b)), "unknown"), true
	}
	unlockFile(f)
	return "", false
}

// RemoveCreated removes dir, which a job created for its output, when the
// job failed having written nothing there but its lock file lock, held
// through unlock (which it calls): the lock file goes while the lock is
// held (on Windows, where an open file cannot be removed, after), so a job
// that takes the lock after it makes a file of its own there, which keeps
// the directory (and one that opened the old file before finds it gone:
// LockFile); then dir and the directories above it up to top, which the
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
	if runtime.GOOS == "windows" { // where an open file cannot be removed; elsewhere the file at lock may be a new job's now
		os.Remove(lock)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if os.Remove(d) != nil || d == filepath.Clean(top) {
			return
		}
	}
}
