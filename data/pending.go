package data

// A file written whole before it takes its name. Where the system can (Linux,
// O_TMPFILE), it is written with no name at all and linked into the directory
// once complete, so a process killed while writing (SIGKILL, the machine's
// out-of-memory killer) leaves nothing behind; elsewhere it is written as a
// hidden temporary file, .NAME.tmp-*, which such a kill leaves.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

type pendingFile struct {
	*os.File
	dir, base string
	tmp       string // its temporary name; "" while it has none
}

// createPending starts a file that will become dir/base.
func createPending(dir, base string) (*pendingFile, error) {
	if f, err := openUnnamed(dir); err == nil {
		return &pendingFile{File: f, dir: dir, base: base}, nil
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &pendingFile{File: f, dir: dir, base: base, tmp: f.Name()}, nil
}

// place closes the file, which the caller has synced, and renames it to
// dir/base, replacing what is there. The directory is not synced.
func (p *pendingFile) place() error {
	if p.tmp == "" {
		name, err := linkUnnamedFile(p.File, p.dir, p.base)
		if err != nil { // a system that makes unnamed files it cannot link
			if name, err = p.copyToNamed(); err != nil {
				return err
			}
		}
		p.tmp = name
	}
	if err := p.File.Close(); err != nil {
		return err
	}
	return os.Rename(p.tmp, filepath.Join(p.dir, p.base))
}

// copyToNamed writes the unnamed file's contents into a hidden temporary file
// and returns its name; the unnamed file is closed.
func (p *pendingFile) copyToNamed() (name string, err error) {
	fi, err := p.File.Stat()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(p.dir, "."+p.base+".tmp-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = io.Copy(f, io.NewSectionReader(p.File, 0, fi.Size())); err != nil {
		return "", fmt.Errorf("copy into %s: %w", f.Name(), err)
	}
	if err = f.Chmod(fi.Mode().Perm()); err != nil {
		return "", err
	}
	if err = f.Sync(); err != nil {
		return "", err
	}
	p.File.Close()
	p.File = f
	return f.Name(), nil
}

// discard closes the file and removes its temporary name, if it has one.
func (p *pendingFile) discard() {
	p.File.Close()
	if p.tmp != "" {
		os.Remove(p.tmp)
	}
}
