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

// A file replaced keeps its permissions (a private one stays private); a
// symbolic link is replaced by the file, and the file it named is left
// alone.
func TestWriteFileKeepsModeAndLinks(t *testing.T) {
	dir := t.TempDir()
	private := filepath.Join(dir, "preds.jsonl")
	if err := os.WriteFile(private, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(private, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(private); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after the write %v, want 0600", fi.Mode().Perm())
	}
	link := filepath.Join(dir, "latest.jsonl")
	if err := os.Symlink("preds.jsonl", link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if err := WriteFile(link, []byte("newer\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the link is still there: %v, %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(private); string(b) != "new\n" {
		t.Errorf("the file the link named holds %q, want it as it was", b)
	}
	fresh := filepath.Join(dir, "fresh")
	if err := WriteFile(fresh, nil); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o644 {
		t.Errorf("a new file's mode %v, want 0644", fi.Mode().Perm())
	}
}

// The errors of a file being written name the file it will become, not the
// system's name for it: its directory (an unnamed file, O_TMPFILE) or its
// temporary name.
func TestPendingFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	want := filepath.Join(dir, "train.yaml")
	unnamed, err := createPending(dir+string(filepath.Separator), "train.yaml") // as filepath.Split gives it
	if err != nil {
		t.Fatal(err)
	}
	tmp, err := os.CreateTemp(dir, ".train.yaml.tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	named := &pendingFile{file: tmp, dir: dir, base: "train.yaml", tmp: tmp.Name()}
	for _, p := range []*pendingFile{unnamed, named} {
		p.file.Close() // every call fails
		_, werr := p.Write([]byte("x"))
		_, aerr := p.WriteAt([]byte("x"), 0)
		for _, c := range []struct {
			op  string
			err error
		}{{"write", werr}, {"write", aerr}, {"chmod", p.Chmod(0o644)}, {"sync", p.Sync()}, {"", p.place()}} {
			var pe *fs.PathError
			if !errors.As(c.err, &pe) || pe.Path != want || c.op != "" && pe.Op != c.op || !errors.Is(c.err, os.ErrClosed) {
				t.Errorf("%s (temporary name %q): %v, want an error of %s", c.op, p.tmp, c.err, want)
			}
		}
		p.discard()
	}
}
