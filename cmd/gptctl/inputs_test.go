package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// --data splits at commas, except a value naming a file that exists.
func TestInputsFlag(t *testing.T) {
	dir := t.TempDir()
	comma := filepath.Join(dir, "shk,1.txt")
	os.WriteFile(comma, []byte("text"), 0o644)
	var got []string
	cmd := newCmdDataPrepare(func(o *DataPrepareOptions) error { got = o.Data; return nil })
	cmd.SetArgs([]string{"--tokenizer", "byte", "--out", dir, "--data", comma, "--data", "a.txt,b/*.txt", "--data", "c.txt"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if want := []string{comma, "a.txt", "b/*.txt", "c.txt"}; !slices.Equal(got, want) {
		t.Errorf("--data gave %q, want %q", got, want)
	}
}

// Jobs started in the same second without --out get directories of their
// own.
func TestNewRunDir(t *testing.T) {
	base := filepath.Join(t.TempDir(), "runs", "pretrain-20261130-003810")
	var got []string
	for range 3 {
		dir, err := newRunDir(base)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, dir)
	}
	if want := []string{base, base + "-2", base + "-3"}; !slices.Equal(got, want) {
		t.Errorf("run directories %q, want %q", got, want)
	}
}

// A job that fails before writing anything into an --out it created (here
// its corpus is not there) removes it, and the directories it made above
// it; an --out that was there stays.
func TestFailedJobRemovesTheOutItCreated(t *testing.T) {
	root := t.TempDir()
	missing := filepath.Join(root, "missing.txt")
	out := filepath.Join(root, "new", "deeper", "run")
	if code, _, stderr := runCLI(t, "pretrain", "--data", missing, "--out", out); code != exitUsage {
		t.Fatalf("exit %d, %s; want %d", code, stderr, exitUsage)
	}
	if _, err := os.Stat(filepath.Join(root, "new")); !os.IsNotExist(err) {
		t.Errorf("%s is left behind (%v)", filepath.Join(root, "new"), err)
	}
	// a/../b is b, as every path the job makes from it is: no a is made.
	dotdot := filepath.Join(root, "a") + string(filepath.Separator) + ".." + string(filepath.Separator) + "b"
	if code, _, stderr := runCLI(t, "pretrain", "--data", missing, "--out", dotdot); code != exitUsage {
		t.Fatalf("exit %d, %s; want %d", code, stderr, exitUsage)
	}
	for _, d := range []string{"a", "b"} {
		if _, err := os.Stat(filepath.Join(root, d)); !os.IsNotExist(err) {
			t.Errorf("--out %s: %s is left behind (%v)", dotdot, d, err)
		}
	}
	there := filepath.Join(root, "there")
	os.Mkdir(there, 0o755)
	if code, _, stderr := runCLI(t, "pretrain", "--data", missing, "--out", there); code != exitUsage {
		t.Fatalf("exit %d, %s; want %d", code, stderr, exitUsage)
	}
	if _, err := os.Stat(there); err != nil {
		t.Errorf("the --out that was there is gone: %v", err)
	}
}
