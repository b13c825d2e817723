package train

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run's checkpoint/ that lost its state.json is damaged (checkpoints are
// written whole with it, and --resume passes over one without it): --model
// reads checkpoint.prev/ with a note saying why, as for a checksum mismatch;
// with neither usable the error says so and points at best/. The same
// checkpoint named directly is read as it is, as a Hugging Face directory,
// which has no state.json, is.
func TestModelDirCheckpointWithoutState(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "max_steps=4", "checkpoint_interval=2", "eval_interval=2", "threads=1")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	ck, prev := filepath.Join(dir, "checkpoint"), filepath.Join(dir, "checkpoint.prev")
	if err := os.Remove(filepath.Join(ck, "state.json")); err != nil {
		t.Fatal(err)
	}
	md, note, err := ModelDirNote(dir)
	if err != nil || md != prev || !strings.Contains(note, "checkpoint "+ck+": no state.json") || !strings.Contains(note, "reading "+prev+" instead") {
		t.Errorf("ModelDirNote: %s, %q, %v; want %s and a note that checkpoint/ has no state.json", md, note, err, prev)
	}
	if _, _, err := LoadModel(dir); err != nil {
		t.Errorf("LoadModel of the run: %v", err)
	}
	if md, note, err := ModelDirNote(ck); err != nil || md != ck || note != "" {
		t.Errorf("the checkpoint named directly: %s, %q, %v; want it read as it is", md, note, err)
	}

	if err := os.Remove(filepath.Join(prev, "state.json")); err != nil {
		t.Fatal(err)
	}
	_, _, err = ModelDirNote(dir)
	if err == nil || !strings.Contains(err.Error(), "model "+dir+": no usable checkpoint: checkpoint "+ck+": no state.json") ||
		!strings.Contains(err.Error(), "its best model is "+filepath.Join(dir, "best")+" (pass that)") {
		t.Errorf("no usable checkpoint: %v", err)
	}

	// A directory that is no run's, holding a model directory as
	// checkpoint/ without state.json, is read as it is.
	hf, _ := hfModelDir(t, "gpt2", func(n string) string { return n })
	outer := t.TempDir()
	if err := os.Rename(hf, filepath.Join(outer, "checkpoint")); err != nil {
		t.Fatal(err)
	}
	if md, note, err := ModelDirNote(outer); err != nil || md != filepath.Join(outer, "checkpoint") || note != "" {
		t.Errorf("a model directory as checkpoint/ of a directory that is no run: %s, %q, %v", md, note, err)
	}
}
