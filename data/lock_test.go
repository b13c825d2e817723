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
