package data

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// openUnnamed opens a file in dir that has no name (O_TMPFILE): the kernel
// frees it when it is closed, or its process dies, unless it was linked. A
// file system without O_TMPFILE (or a kernel before 3.11) gives an error.
func openUnnamed(dir string) (*os.File, error) {
	return os.OpenFile(dir, unix.O_TMPFILE|os.O_RDWR, 0o600)
}

// linkUnnamedFile gives f, opened by openUnnamed, the hidden temporary name
// dir/.BASE.tmp-N and returns it. A variable so that tests can fail it.
var linkUnnamedFile = linkUnnamed

func linkUnnamed(f *os.File, dir, base string) (string, error) {
	fd := int(f.Fd())
	for range 100 {
		name := filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		// Through /proc (needs no privilege), else by the descriptor itself
		// (needs CAP_DAC_READ_SEARCH).
		err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			err = unix.Linkat(fd, "", unix.AT_FDCWD, name, unix.AT_EMPTY_PATH)
		}
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", &os.LinkError{Op: "link", Old: f.Name(), New: name, Err: err}
		}
		return name, nil
	}
	return "", &os.LinkError{Op: "link", Old: f.Name(), New: filepath.Join(dir, "."+base+".tmp-*"), Err: unix.EEXIST}
}
