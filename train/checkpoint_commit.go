package train

// Atomic replacement of a run's checkpoint/ and best/ directories, and
// the recovery of one that a kill interrupted.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gptctl/data"
)

// commitDir atomically replaces runDir/name with the directory fill writes
// into a temporary path. The replaced directory becomes runDir/prev, or is
// removed when prev is "" (it is runDir/.name.old between the two renames;
// recoverDir puts it back if a kill comes in between). The prev it replaces
// is renamed to .prev.old and removed last, so that a kill never leaves it
// half-deleted (recoverDir puts it back if a kill leaves no prev).
func commitDir(runDir, name, prev string, fill func(tmp string) error) error {
	cur, tmp := filepath.Join(runDir, name), filepath.Join(runDir, "."+name+".tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		// Free the space a half-written checkpoint holds (a full disk is
		// the usual cause); the current one stays as it was.
		os.RemoveAll(tmp)
		if _, serr := os.Stat(cur); serr != nil {
			return fmt.Errorf("%w; %s was not written, and there was none before it", err, cur)
		}
		return fmt.Errorf("%w; %s is kept as it was", err, cur)
	}
	old := filepath.Join(runDir, "."+name+".old")
	if _, err := os.Stat(cur); err == nil {
		if prev != "" {
			to := filepath.Join(runDir, prev)
			old = filepath.Join(runDir, "."+prev+".old")
			if err := os.RemoveAll(old); err != nil {
				return err
			}
			if err := os.Rename(to, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := os.Rename(cur, to); err != nil {
				return err
			}
		} else if err := os.Rename(cur, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, cur); err != nil {
		return err
	}
	os.RemoveAll(old)
	return data.SyncDir(runDir)
}

// recoverDir undoes a swap of runDir/name (best/, or checkpoint.prev/)
// that a kill interrupted between commitDir's renames: the replaced copy,
// .name.old, becomes name again (the new copy in .name.tmp may be
// incomplete). A .name.old left beside name (a kill before commitDir
// removed it) is removed.
func recoverDir(runDir, name string) error {
	cur, old := filepath.Join(runDir, name), filepath.Join(runDir, "."+name+".old")
	if _, err := os.Stat(old); err != nil {
		return nil
	}
	if _, err := os.Stat(cur); err == nil {
		return os.RemoveAll(old)
	}
	if err := os.Rename(old, cur); err != nil {
		return err
	}
	return data.SyncDir(runDir)
}
