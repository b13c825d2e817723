package data

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A write that fills the disk names the file it was writing, not its
// directory (the system's name for an unnamed file). It mounts a small
// tmpfs, which needs root (CI runs as root); elsewhere it is skipped.
func TestFullDiskNamesTheFile(t *testing.T) {
	dir := unnamedFilesDir(t)
	if os.Geteuid() != 0 {
		t.Skip("a full-disk test mounts a small tmpfs, which needs root")
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs for the full-disk test: %v", err)
	}
	defer syscall.Unmount(dir, 0)
	path := filepath.Join(dir, "train.yaml")
	err := WriteFile(path, make([]byte, 2<<20))
	if !errors.Is(err, syscall.ENOSPC) || err.Error() != "write "+path+": no space left on device" {
		t.Errorf("writing 2 MiB on a disk of 1: %v, want an error naming %s", err, path)
	}
	model := filepath.Join(dir, "model.safetensors") // named once, not as "safetensors X: write X"
	err = WriteSafetensors(model, []Tensor{{Name: "w", DType: "U8", Shape: []int{2 << 20}, Data: make([]byte, 2<<20)}}, nil)
	if !errors.Is(err, syscall.ENOSPC) || err.Error() != "write "+model+": no space left on device" {
		t.Errorf("writing a model of 2 MiB on a disk of 1: %v, want an error naming %s once", err, model)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%d entries left in the directory, want none", len(ents))
	}
}

// hangEnv makes TestHangWhileWriting, run as a child of the test binary,
// write the file it names and stop in the middle.
const hangEnv = "GPTCTL_TEST_HANG_WRITE"

func TestHangWhileWriting(t *testing.T) {
	spec := os.Getenv(hangEnv) // "file:PATH" or "shard:PATH"
	if spec == "" {
		t.Skip("a helper of TestKilledWriteLeavesNothing")
	}
	kind, path, _ := strings.Cut(spec, ":")
	hang := func() {
		os.Stdout.WriteString("writing\n")
		select {}
	}
	switch kind {
	case "file":
		WriteFileAtomic(path, func(w io.Writer) error {
			w.Write(make([]byte, 3<<20)) // past the write buffer: in the file
			hang()
			return nil
		})
	case "shard":
		sw, err := NewShardWriter(path, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		sw.Write(make([]int, 1<<20))
		sw.w.Flush()
		hang()
	}
}

// unnamedFilesDir returns a temporary directory whose file system makes
// unnamed files (O_TMPFILE); the test is skipped where it does not (writes
// then go through .NAME.tmp-* files, which a kill leaves).
func unnamedFilesDir(t *testing.T) string {
	dir := t.TempDir()
	f, err := openUnnamed(dir)
	if err != nil {
		t.Skipf("the file system of %s makes no unnamed files (O_TMPFILE): %v", dir, err)
	}
	f.Close()
	return dir
}

// A job killed outright (SIGKILL, the out-of-memory killer) while it writes a
// file or a shard leaves the directory as it was: the old file, and no
// temporary file beside it.
func TestKilledWriteLeavesNothing(t *testing.T) {
	dir := unnamedFilesDir(t)
	for _, kind := range []string{"file", "shard"} {
		path := filepath.Join(dir, kind+".out")
		if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHangWhileWriting$")
		cmd.Env = append(os.Environ(), hangEnv+"="+kind+":"+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if line != "writing\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%s: the child never started writing: %q, %v", kind, line, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("%s: %d entries in the directory while the file is written, want the old file alone", kind, len(ents))
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 || ents[0].Name() != kind+".out" {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("%s: the directory holds %q after the kill, want the old file alone", kind, names)
		}
		if b, _ := os.ReadFile(path); string(b) != "old\n" {
			t.Errorf("%s: the old file holds %q after the kill", kind, b)
		}
		os.Remove(path)
	}
}

// Where an unnamed file cannot be linked (no /proc, no privilege), the write
// goes through a temporary file, with the same result.
func TestUnnamedFileThatCannotBeLinked(t *testing.T) {
	dir := unnamedFilesDir(t)
	defer func(link func(*os.File, string, string) (string, error)) { linkUnnamedFile = link }(linkUnnamedFile)
	linkUnnamedFile = func(*os.File, string, string) (string, error) { return "", errors.ErrUnsupported }

	p := filepath.Join(dir, "preds.jsonl")
	if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("a line of predictions\n", 100_000)
	if err := WriteFile(p, []byte(body)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != body {
		t.Errorf("the file holds %d bytes, want %d", len(b), len(body))
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the old file's 0600", fi.Mode().Perm())
	}
	ids := []int{5, 0, 99, 42}
	sp := filepath.Join(dir, "train_000000.bin")
	if err := WriteShard(sp, ids, 100); err != nil {
		t.Fatal(err)
	}
	s, err := OpenShard(sp)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != len(ids) || s.Get(2) != 99 {
		t.Errorf("the shard holds %d tokens (token 2: %d), want %v", s.Len(), s.Get(2), ids)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("%d entries in the directory, want the two files alone", len(ents))
	}
}
