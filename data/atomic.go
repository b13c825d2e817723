package data

// Atomic file writes: a file in the same directory (without a name where the
// system allows: see pendingFile), fsync, rename, then fsync of the
// directory, so a crash leaves either the old file or the new.

import (
	"bufio"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with what write produces, atomically. A
// file that was there keeps its permissions (a new one is 0644). A
// symbolic link at path is replaced by the file, as a rename does: the
// file it named is left as it was (a run directory copied as links to
// another's files must not write into that one's).
func WriteFileAtomic(path string, write func(w io.Writer) error) (err error) {
	mode := fs.FileMode(0o644)
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		mode = fi.Mode().Perm()
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := createPending(dir, base)
	if pe, ok := err.(*fs.PathError); ok { // name the file asked for, not the temp file
		return &fs.PathError{Op: "write", Path: path, Err: pe.Err}
	} else if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.discard()
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err = write(w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.place(); err != nil {
		return err
	}
	return SyncDir(dir)
}

// WriteFile atomically replaces path with b.
func WriteFile(path string, b []byte) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
