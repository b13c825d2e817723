//go:build unix

package data

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// fileID names the file f (with its FileInfo fi) whatever path reaches it:
// its device and inode, the same for a symbolic or hard link, or else its
// absolute path.
func fileID(f string, fi os.FileInfo) (string, error) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", st.Dev, st.Ino), nil
	}
	return filepath.Abs(f)
}
