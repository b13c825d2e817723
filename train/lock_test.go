package train

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// An --out that cannot be a directory (a regular file, or a path under one)
// is a usage error naming the path; a full disk stays a runtime failure.
func TestRunDirectoryNotADirectory(t *testing.T) {
	file := writeFile(t, filepath.Join(t.TempDir(), "notes.txt"), "x")
	for _, out := range []string{file, filepath.Join(file, "run")} {
		_, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=1"), Options{OutDir: out, Log: io.Discard})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), out) || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("--out %s: %v, want an InputError naming it", out, err)
		}
	}
	full := &fs.PathError{Op: "mkdir", Path: "/x/run", Err: syscall.ENOSPC}
	var ie *InputError
	if err := RunDirError("/x/run", full); errors.As(err, &ie) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("a full disk: %v, want a runtime error", err)
	}
}
