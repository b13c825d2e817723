package train

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// commitDir swaps best/ in two renames (best to .best.old, the new copy to
// best); a kill between them leaves no best/. The next job in the run
// directory puts the previous best model back.
func TestBestSwapIsCrashSafe(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "max_steps=10")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	best, old, tmp := filepath.Join(dir, "best"), filepath.Join(dir, ".best.old"), filepath.Join(dir, ".best.tmp")
	before := readFile(t, filepath.Join(best, "model.safetensors"))
	if err := os.Rename(best, old); err != nil { // the first rename done, not the second
		t.Fatal(err)
	}
	os.MkdirAll(tmp, 0o755)
	writeFile(t, filepath.Join(tmp, "model.safetensors"), "half")

	_, unlock, err := claim(cfg, Options{OutDir: dir, Resume: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if b, err := os.ReadFile(filepath.Join(best, "model.safetensors")); err != nil || string(b) != before {
		t.Errorf("best/ after a kill between the renames: %v; want the previous best model back", err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("%s is still there", old)
	}
}

// A checkpoint's commit renames checkpoint.prev aside and removes it last. A
// kill before the rotation ends leaves checkpoint/ and the aside copy; the
// next job puts it back as checkpoint.prev, which a resume falls back to
// when checkpoint/ is damaged (removed in place, it could be half gone).
func TestCheckpointPrevSurvivesKilledRotation(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "max_steps=4", "checkpoint_interval=2")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	prev, aside := filepath.Join(dir, "checkpoint.prev"), filepath.Join(dir, ".checkpoint.prev.old")
	if err := os.Rename(prev, aside); err != nil { // the rotation's first rename done
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "checkpoint", "model.safetensors"), "damaged")
	var log strings.Builder
	cfg = tinyConfig(t, "max_steps=5", "checkpoint_interval=2")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: &log}); err != nil {
		t.Fatalf("resume with checkpoint/ damaged and checkpoint.prev set aside: %v", err)
	}
	if !strings.Contains(log.String(), "checkpoint.prev at step 2") {
		t.Errorf("the resume did not continue from checkpoint.prev at step 2:\n%s", log.String())
	}
	if _, err := os.Stat(aside); !os.IsNotExist(err) {
		t.Errorf("%s is still there", aside)
	}
}

// state.json is sealed by a checksum of its own: one digit changed (a step
// of 120 read as 100 would resume on the wrong batches and rewrite steps
// the run has) rejects the checkpoint for checkpoint.prev. A state written
// before states were sealed (no checksum) still resumes.
func TestStateJSONIsChecked(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "max_steps=6", "checkpoint_interval=3")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "checkpoint", "state.json")
	b := readFile(t, path)
	if !strings.HasPrefix(b, "{\n  \"checksum\": \"") || !strings.Contains(b, `"step": 6,`) {
		t.Fatalf("state.json is not sealed:\n%s", b)
	}
	writeFile(t, path, strings.Replace(b, `"step": 6,`, `"step": 4,`, 1))
	var log strings.Builder
	cfg = tinyConfig(t, "max_steps=7", "checkpoint_interval=3")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if line := lineWith(log.String(), "resuming from"); !strings.Contains(line, "checkpoint.prev at step 3") || !strings.Contains(line, "state.json is damaged (checksum mismatch)") {
		t.Errorf("resume line %q: want checkpoint.prev at step 3, state.json named as damaged", line)
	}
	if md, note, err := ModelDirNote(dir); err != nil || md != filepath.Join(dir, "checkpoint") || note != "" {
		t.Errorf("eval's model of the resumed run: %s, %q, %v", md, note, err)
	}

	// The same checkpoint without its checksum line, as builds before the
	// seal wrote it, is read; with the key itself damaged it is not.
	b = readFile(t, path)
	first, rest, _ := strings.Cut(strings.TrimPrefix(b, "{\n"), "\n")
	writeFile(t, path, "{\n"+rest)
	if _, err := readCheckpoint(filepath.Join(dir, "checkpoint")); err != nil {
		t.Errorf("a state.json without a checksum: %v", err)
	}
	writeFile(t, path, "{\n"+strings.Replace(first, "checksum", "chacksum", 1)+"\n"+rest)
	if _, err := readCheckpoint(filepath.Join(dir, "checkpoint")); err == nil || !strings.Contains(err.Error(), "chacksum") {
		t.Errorf("a state.json with its checksum key damaged: %v, want the unknown key named", err)
	}
}

// A run's checkpoint that lost its config.json gives way to checkpoint.prev
// with a note that says so, as one with a damaged file does.
func TestModelDirNotesMissingConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=4", "checkpoint_interval=2"), Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "checkpoint", "config.json"))
	md, note, err := ModelDirNote(dir)
	if err != nil || md != filepath.Join(dir, "checkpoint.prev") || !strings.Contains(note, "no config.json") {
		t.Errorf("ModelDirNote: %s, %q, %v; want checkpoint.prev and a note that checkpoint/ has no config.json", md, note, err)
	}
}
