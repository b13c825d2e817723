package data

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	release, err := LockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want this pid", b)
	}
	// A second taker (another open file description, as another process
	// would have) is told who holds it.
	_, err = LockFile(path)
	var le *LockedError
	if !errors.As(err, &le) || le.Holder != strconv.Itoa(os.Getpid()) {
		t.Errorf("second lock: %v, want a LockedError naming pid %d", err, os.Getpid())
	}
	release()
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("released lock file still holds %q", b)
	}
	again, err := LockFile(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}

// A file system that cannot lock is not another job holding the directory.
func TestLockFileWithoutLocks(t *testing.T) {
	defer func(f func(*os.File) error) { lockFile = f }(lockFile)
	lockFile = func(*os.File) error { return syscall.ENOLCK }
	path := filepath.Join(t.TempDir(), ".lock")
	_, err := LockFile(path)
	var le *LockedError
	if err == nil || errors.As(err, &le) || !errors.Is(err, syscall.ENOLCK) || !strings.Contains(err.Error(), path) {
		t.Errorf("lock without file system locks: %v, want the file system's error naming %s", err, path)
	}
}

// A job that fails in a directory it created removes it, but not once
// another job has taken the lock there: one that locks after the lock file
// is gone makes its own, which keeps the directory and that job's lock.
func TestRemoveCreatedLeavesTheNextJobsLock(t *testing.T) {
	top := filepath.Join(t.TempDir(), "new")
	dir := filepath.Join(top, "run")
	os.MkdirAll(dir, 0o755)
	lock := filepath.Join(dir, RunLockFile)
	release, err := LockFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	var next func()
	RemoveCreated(dir, top, lock, func() {
		release()
		if next, err = LockFile(lock); err != nil { // the next job, as the first lets go
			t.Fatal(err)
		}
	})
	defer next()
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("the next job's lock file is gone: %v", err)
	}
	if _, err := LockFile(lock); err == nil {
		t.Error("a third job took the lock the next job holds")
	}
	// Alone, the failed job leaves nothing.
	alone := filepath.Join(t.TempDir(), "a", "b")
	os.MkdirAll(alone, 0o755)
	release, err = LockFile(filepath.Join(alone, RunLockFile))
	if err != nil {
		t.Fatal(err)
	}
	RemoveCreated(alone, filepath.Dir(alone), filepath.Join(alone, RunLockFile), release)
	if _, err := os.Stat(filepath.Dir(alone)); !os.IsNotExist(err) {
		t.Errorf("%s is left: %v", filepath.Dir(alone), err)
	}
}

// A lock taken on a file that was removed from its path meanwhile (the
// job that held it gave the directory up) is taken again on the file at
// the path: two jobs cannot both hold the directory.
func TestLockFileOnARemovedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), RunLockFile)
	defer func(f func(*os.File) error) { lockFile = f }(lockFile)
	removed := false
	lockFile = func(f *os.File) error {
		if !removed { // between this job's open and its lock
			removed = true
			os.Remove(path)
		}
		return lockOS(f)
	}
	release, err := LockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := LockFile(path); err == nil {
		t.Error("a second job took the lock: the first held a removed file")
	}
}

// A probe of a lock file reads a held one, creates none, and leaves a
// free one free.
func TestLockHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".prepare.lock")
	if _, held := LockHeld(path); held {
		t.Error("no file: held")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the probe created %s", path)
	}
	release, err := LockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if pid, held := LockHeld(path); !held || pid != strconv.Itoa(os.Getpid()) {
		t.Errorf("held lock: %q, %v", pid, held)
	}
	release()
	if _, held := LockHeld(path); held {
		t.Error("a released lock: held")
	}
	again, err := LockFile(path)
	if err != nil {
		t.Fatalf("after the probe: %v", err)
	}
	again()
}
