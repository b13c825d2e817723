package data

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteFile replaces a file whole and leaves no temp file; a file it cannot
// create is named in the error, not the temp file it tried first.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.json")
	for _, body := range []string{"first, longer\n", "second\n"} {
		if err := WriteFile(p, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != body {
			t.Errorf("file holds %q, want %q", b, body)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries in the directory, want the file alone", len(ents))
	}
	missing := filepath.Join(dir, "none", "out.json")
	err := WriteFile(missing, []byte("x"))
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "write "+missing+": no such file or directory" || strings.Contains(err.Error(), ".tmp-") {
		t.Errorf("into a missing directory: %v", err)
	}
}
