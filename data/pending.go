package data

// A file written whole before it takes its name. Where the system can (Linux,
// O_TMPFILE), it is written with no name at all and linked into the directory
// once complete, so a process killed while writing (SIGKILL, the machine's
// out-of-memory killer) leaves nothing behind; elsewhere it is written as a
// hidden temporary file, .NAME.tmp-*, which such a kill leaves.

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// pendingFile is the file that will become dir/base. Its errors name that
// path: the system's name for it is its directory (an unnamed file) or its
// temporary name, neither of which says what was being written.
type pendingFile struct {
	file      *os.File
	dir, base string
	tmp       string // its temporary name; "" while it has none
}

// createPending starts a file that will become dir/base.
func createPending(dir, base string) (*pendingFile, error) {
	if f, err := openUnnamed(dir); err == nil {
		return &pendingFile{file: f, dir: dir, base: base}, nil
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &pendingFile{file: f, dir: dir, base: base, tmp: f.Name()}, nil
}

func (p *pendingFile) Write(b []byte) (int, error) {
	n, err := p.file.Write(b)
	return n, p.named(err)
}

func (p *pendingFile) WriteAt(b []byte, off int64) (int, error) {
	n, err := p.file.WriteAt(b, off)
	return n, p.named(err)
}

func (p *pendingFile) Chmod(mode fs.FileMode) error { return p.named(p.file.Chmod(mode)) }

func (p *pendingFile) Sync() error { return p.named(p.file.Sync()) }

// named returns err, an error of the file, with dir/base in place of the
// file's own name.
func (p *pendingFile) named(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return &fs.PathError{Op: pe.Op, Path: filepath.Join(p.dir, p.base), Err: pe.Err}
	}
	return err
}

// place closes the file, which the caller has synced, and renames it to
// dir/base, replacing what is there. The directory is not synced.
func (p *pendingFile) place() error {
	if p.tmp == "" {
		name, err := linkUnnamedFile(p.file, p.dir, p.base)
		if err != nil { // a system that makes unnamed files it cannot link
			if name, err = p.copyToNamed(); err != nil {
				return p.named(err)
			}
		}
		p.tmp = name
	}
	if err := p.file.Close(); err != nil {
		return p.named(err)
	}
	return os.Rename(p.tmp, filepath.Join(p.dir, p.base))
}

// copyToNamed writes the unnamed file's contents into a hidden temporary file
// and returns its name; the unnamed file is closed.
func (p *pendingFile) copyToNamed() (name string, err error) {
	fi, err := p.file.Stat()
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
	if _, err = io.Copy(f, io.NewSectionReader(p.file, 0, fi.Size())); err != nil {
		return "", err
	}
	if err = f.Chmod(fi.Mode().Perm()); err != nil {
		return "", err
	}
	if err = f.Sync(); err != nil {
		return "", err
	}
	p.file.Close()
	p.file = f
	return f.Name(), nil
}

// discard closes the file and removes its temporary name, if it has one.
func (p *pendingFile) discard() {
	p.file.Close()
	if p.tmp != "" {
		os.Remove(p.tmp)
	}
}
