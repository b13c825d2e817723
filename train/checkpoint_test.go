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
