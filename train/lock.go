package train

// A lock file stops two jobs from writing one run directory.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"gptctl/data"
)

// lockRunDir creates dir if needed and takes an exclusive lock on
// dir/.lock, held until release is called or the process ends (the kernel
// drops it even after SIGKILL).
func lockRunDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Clean(dir), 0o755); err != nil { // cleaned as every path in it is: a/../b makes no a
		return nil, RunDirError(dir, err)
	}
	release, err = data.LockFile(filepath.Join(dir, data.RunLockFile))
	var le *data.LockedError
	switch {
	case errors.As(err, &le):
		return nil, inputErrorf("run directory %s is in use by another gptctl (pid %s); wait for it or use another --out", dir, le.Holder)
	case err != nil:
		return nil, RunDirError(dir, err)
	}
	return release, nil
}

// RunDirError classifies a failure to create the run directory dir or its
// lock: a file in the way or a directory the user may not write is a usage
// error naming dir (exit 2); anything else (a full disk, an I/O error)
// stays a runtime failure.
func RunDirError(dir string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, fs.ErrExist):
		return inputErrorf("run directory %s: %v: a file is in the way (choose another --out)", dir, err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return inputErrorf("run directory %s: %v (choose an --out you can write)", dir, err)
	}
	return fmt.Errorf("run directory: %w", err)
}
