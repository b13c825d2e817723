package train

import (
	"context"
	"io"
	"os"
	"path/filepath"
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
