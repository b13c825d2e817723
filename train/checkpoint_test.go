package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
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

	_, unlock, _, err := claim(cfg, Options{OutDir: dir, Resume: true, Log: io.Discard})
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

// A run's checkpoint that lost its config.json, or is gone, gives way to
// checkpoint.prev with a note that says so, as one with a damaged file does.
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
	// Without checkpoint/ at all (as between the renames of a checkpoint
	// write) the note says so too.
	if err := os.RemoveAll(filepath.Join(dir, "checkpoint")); err != nil {
		t.Fatal(err)
	}
	md, note, err = ModelDirNote(dir)
	if err != nil || md != filepath.Join(dir, "checkpoint.prev") || !strings.Contains(note, "it has no checkpoint/") {
		t.Errorf("ModelDirNote without checkpoint/: %s, %q, %v; want checkpoint.prev and a note that checkpoint/ is missing", md, note, err)
	}
}

// best/ is kept at each evaluation that improves, not with the checkpoint:
// a session stopped past its checkpoint can leave a better model there
// than the checkpoint records. A resume takes best/'s own record
// (best.json) as the run's best, so that the summary names the model
// best/ holds and only a better evaluation replaces it (here the resumed
// session evaluates too seldom to see that step again). A damaged best/ is
// no best: the next evaluation replaces it.
func TestResumeTakesBestFromBestDir(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "max_steps=20", "eval_interval=5", "checkpoint_interval=10", "dropout=0", "lr=3e-3")
	sum, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if sum.BestStep <= 10 {
		t.Fatalf("best step %d: the test needs a best evaluation after step 10", sum.BestStep)
	}
	rec, err := readBest(dir)
	if err != nil || rec == nil || rec.Step != sum.BestStep || rec.Value != lossOf(sum.BestValLoss) || rec.Metric != "val_loss" {
		t.Fatalf("best/best.json %+v, %v; want step %d, val_loss %v", rec, err, sum.BestStep, lossOf(sum.BestValLoss))
	}
	// A kill after the evaluation and before the step-20 checkpoint.
	os.RemoveAll(filepath.Join(dir, "checkpoint"))
	os.Rename(filepath.Join(dir, "checkpoint.prev"), filepath.Join(dir, "checkpoint"))
	model := readFile(t, filepath.Join(dir, "best", "model.safetensors"))
	var log strings.Builder
	cfg = tinyConfig(t, "max_steps=12", "eval_interval=100", "checkpoint_interval=10", "dropout=0", "lr=3e-3")
	got, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if got.BestStep != sum.BestStep || lossOf(got.BestValLoss) != lossOf(sum.BestValLoss) || !strings.Contains(log.String(), fmt.Sprintf("holds the model of step %d", sum.BestStep)) {
		t.Errorf("resumed summary best step %d, val %v; want best/'s %d, %v, and a note:\n%s", got.BestStep, lossOf(got.BestValLoss), sum.BestStep, lossOf(sum.BestValLoss), log.String())
	}
	if readFile(t, filepath.Join(dir, "best", "model.safetensors")) != model {
		t.Error("best/ was replaced")
	}

	// best/ damaged: named directly it is read with a note; a resume drops
	// it as the best, and its next evaluation writes a new one.
	b := []byte(readFile(t, filepath.Join(dir, "best", "tokenizer.json")))
	b[len(b)/2] ^= 1
	writeFile(t, filepath.Join(dir, "best", "tokenizer.json"), string(b))
	if _, note, err := ModelDirNote(filepath.Join(dir, "best")); err != nil || !strings.Contains(note, "tokenizer.json is damaged") {
		t.Errorf("ModelDirNote of a damaged best/: %q, %v", note, err)
	}
	log.Reset()
	cfg = tinyConfig(t, "max_steps=15", "eval_interval=15", "checkpoint_interval=10", "dropout=0", "lr=3e-3")
	if got, err = Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "tokenizer.json is damaged (checksum mismatch): the next evaluation replaces it") || got.BestStep != 15 {
		t.Errorf("resume with best/ damaged: best step %d, log:\n%s", got.BestStep, log.String())
	}
	if rec, err := readBest(dir); err != nil || rec.Step != 15 {
		t.Errorf("best/ after the resumed evaluation: %+v, %v; want step 15", rec, err)
	}
}

// killsPastBest are kills of a run past its last best/, by what each
// leaves out of the run directory: after the step-20 checkpoint (the one
// before is the latest), or before any.
var killsPastBest = []struct {
	name string
	cut  []string
}{
	{"killed after step 20's checkpoint", []string{"checkpoint", "summary.json"}},
	{"killed before a checkpoint", []string{"checkpoint", "checkpoint.prev", "summary.json"}},
}

// killedCopy copies the finished run from to to, as a kill would have left
// it: without cut, checkpoint.prev (if kept) the latest checkpoint.
func killedCopy(t *testing.T, from, to string, cut []string) string {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	for _, f := range cut {
		os.RemoveAll(filepath.Join(to, f))
	}
	if _, err := os.Stat(filepath.Join(to, "checkpoint.prev")); err == nil {
		os.Rename(filepath.Join(to, "checkpoint.prev"), filepath.Join(to, "checkpoint"))
	}
	return to
}

// A kill after an evaluation that improved (and wrote best/) and before
// the next checkpoint: the resumed run trains those steps again, their
// evaluations counting for patience as they did, so it ends as the run
// without the kill, at the same step, with the same best and best/ model;
// best/ is not replaced by the worse models of the steps before it. So
// does a resume of a run killed before its first checkpoint, which starts
// again from step 0.
func TestResumeAfterBestKeepsPatience(t *testing.T) {
	dir := t.TempDir()
	sets := []string{"max_steps=40", "eval_interval=5", "checkpoint_interval=20", "dropout=0", "lr=3e-3", "patience=1"}
	straight := filepath.Join(dir, "straight")
	want, err := Pretrain(context.Background(), tinyConfig(t, sets...), Options{OutDir: straight, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if want.BestStep <= 20 {
		t.Fatalf("best step %d: the test needs a best evaluation after the step-20 checkpoint", want.BestStep)
	}
	model := readFile(t, filepath.Join(straight, "best", "model.safetensors"))
	for _, c := range killsPastBest {
		run := killedCopy(t, straight, filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")), c.cut)
		var log strings.Builder
		got, err := Pretrain(context.Background(), tinyConfig(t, sets...), Options{OutDir: run, Resume: true, Log: &log})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Step != want.Step || got.BestStep != want.BestStep || lossOf(got.BestValLoss) != lossOf(want.BestValLoss) || got.StoppedEarly != want.StoppedEarly || lossOf(got.ValLoss) != lossOf(want.ValLoss) {
			t.Errorf("%s: resumed run ends at step %d, best %v at step %d, stopped early %q, val %v; without the kill: step %d, best %v at step %d, %q, val %v\n%s",
				c.name, got.Step, lossOf(got.BestValLoss), got.BestStep, got.StoppedEarly, lossOf(got.ValLoss), want.Step, lossOf(want.BestValLoss), want.BestStep, want.StoppedEarly, lossOf(want.ValLoss), log.String())
		}
		if readFile(t, filepath.Join(run, "best", "model.safetensors")) != model {
			t.Errorf("%s: best/ holds another model than the run without the kill", c.name)
		}
	}
}

// pretrain and finetune --init of a run whose latest checkpoint is damaged
// read checkpoint.prev, as eval does, and say so and why.
func TestInitNotesDamagedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	lm := filepath.Join(dir, "lm")
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=4", "checkpoint_interval=2"), Options{OutDir: lm, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	b := []byte(readFile(t, filepath.Join(lm, "checkpoint", "model.safetensors")))
	b[len(b)-3] ^= 0xff
	writeFile(t, filepath.Join(lm, "checkpoint", "model.safetensors"), string(b))
	want := "reading " + filepath.Join(lm, "checkpoint.prev")

	var log strings.Builder
	if _, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=2", "init_from="+lm), Options{OutDir: filepath.Join(dir, "more"), Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "model.safetensors is damaged") || !strings.Contains(log.String(), want) {
		t.Errorf("pretrain --init of a damaged run; log:\n%s\nwant the damage and %q", log.String(), want)
	}
	log.Reset()
	cfg := synthClassifier(t, dir, 40, "epochs: 1\nbatch_size: 8\n")
	cfg.InitFrom = lm
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: filepath.Join(dir, "ft"), Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "model.safetensors is damaged") || !strings.Contains(log.String(), want) {
		t.Errorf("finetune --init of a damaged run; log:\n%s\nwant the damage and %q", log.String(), want)
	}
}

// A directory where the run writes one of its files is found before the
// run trains, not when it writes its summary at the end.
func TestClaimRefusesDirectoryForRunFile(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "summary.json"), 0o755)
	_, err := Pretrain(context.Background(), tinyConfig(t, "max_steps=2"), Options{OutDir: dir, Log: io.Discard})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "summary.json is a directory") {
		t.Errorf("a run directory with summary.json a directory: %v, want an InputError naming it", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint")); err == nil {
		t.Error("the run trained before it found summary.json a directory")
	}
}

// settleBest's cases: a replay of the steps before best/'s (counted for
// patience against the checkpoint's best, best/ kept), best/'s own step
// made again (an improvement, best/'s value the run's best, whether the
// replay gives it bit for bit, a little worse or a little better, as a
// GPU's may), and a step past it that an other eval_interval reaches.
func TestSettleBest(t *testing.T) {
	ck, kept := &bestEval{20, 2.0}, &bestEval{30, 1.5}
	for _, c := range []struct {
		name                      string
		step                      int
		v                         float64
		best                      bestEval
		keptAfter                 bool
		improved, rejoined, saved bool
	}{
		{"before best/'s step, better than the checkpoint's", 25, 1.8, bestEval{25, 1.8}, true, true, false, false},
		{"before best/'s step, worse", 25, 2.1, bestEval{20, 2.0}, true, false, false, false},
		{"before best/'s step, better than best/'s", 25, 1.4, bestEval{25, 1.4}, false, true, false, true},
		{"best/'s step, the same value", 30, 1.5, bestEval{30, 1.5}, false, true, false, false},
		{"best/'s step, a little worse", 30, 1.52, bestEval{30, 1.5}, false, true, false, false},
		{"best/'s step, worse than the checkpoint's", 30, 2.1, bestEval{30, 1.5}, false, true, false, false},
		{"best/'s step, a little better", 30, 1.49, bestEval{30, 1.49}, false, true, false, true},
		{"past best/'s step, not better", 40, 1.6, bestEval{30, 1.5}, false, false, true, false},
		{"past best/'s step, better", 40, 1.4, bestEval{40, 1.4}, false, true, true, true},
	} {
		b, k, improved, rejoined, saved := settleBest(c.step, c.v, ck, kept, lower)
		if *b != c.best || (k != nil) != c.keptAfter || improved != c.improved || rejoined != c.rejoined || saved != c.saved {
			t.Errorf("%s: best %+v, kept %v, improved %v, rejoined %v, saved %v; want %+v, kept %v, %v, %v, %v",
				c.name, *b, k != nil, improved, rejoined, saved, c.best, c.keptAfter, c.improved, c.rejoined, c.saved)
		}
	}
}

// --resume --set max_steps=N where N is the step a run stopped at, on its
// way further, is refused: the run would end unevaluated at its last step
// (best/ never seeing it). At a step it evaluated at anyway, the run is
// complete there. A max_steps below the step is refused with the fewest
// steps the resume takes, which it does take.
func TestResumeMaxStepsAtStoppedStep(t *testing.T) {
	for _, c := range []struct {
		stop   int
		refuse bool
		least  int
	}{{10, true, 11}, {8, false, 8}} {
		dir := t.TempDir()
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := func(step int) {
			if step == c.stop {
				cancel(errors.New("test interruption"))
			}
		}
		cfg := tinyConfig(t, "max_steps=20", "eval_interval=8", "checkpoint_interval=100")
		if sum, err := Pretrain(ctx, cfg, Options{OutDir: dir, Log: io.Discard, AfterStep: stop}); err != nil || sum.Step != c.stop {
			t.Fatalf("interrupted run: %+v, %v", sum, err)
		}
		resume := func(maxSteps int) (*Summary, error) {
			cfg := tinyConfig(t, fmt.Sprintf("max_steps=%d", maxSteps), "eval_interval=8", "checkpoint_interval=100")
			return Pretrain(context.Background(), cfg, Options{OutDir: dir, Resume: true, Log: io.Discard})
		}
		var ce *ConfigError
		_, err := resume(c.stop - 1)
		if want := fmt.Sprintf("set max_steps to %d or more", c.least); !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("resume at step %d with max_steps %d: %v, want it refused saying %q", c.stop, c.stop-1, err, want)
		}
		sum, err := resume(c.stop)
		switch {
		case c.refuse && (!errors.As(err, &ce) || !strings.Contains(err.Error(), "max_steps 10 is the step the run stopped at, on its way to 20")):
			t.Errorf("resume at step 10 with max_steps 10: %v, want it refused", err)
		case !c.refuse && (err != nil || sum.Status != "completed" || sum.Step != 8):
			t.Errorf("resume at step 8, evaluated, with max_steps 8: %+v, %v; want it complete", sum, err)
		}
		if c.refuse {
			if sum, err := resume(c.least); err != nil || sum.Status != "completed" || sum.Step != c.least {
				t.Errorf("resume at step %d with max_steps %d, the value the refusal named: %+v, %v; want it complete", c.stop, c.least, sum, err)
			}
		}
	}
}

// A stop right after an interval checkpoint does not write the same step
// again: checkpoint.prev keeps the checkpoint before it (a second copy of
// the step would cost the stop's grace and the fallback a resume reads on
// a damaged checkpoint), and the resume ends where a run without the stop
// does.
func TestStopAfterIntervalCheckpointWritesItOnce(t *testing.T) {
	steps := func(run string) (ck, prev int) {
		var a, b struct{ Step int }
		if err := readState(filepath.Join(run, checkpointDir), &a); err != nil {
			t.Fatal(err)
		}
		if err := readState(filepath.Join(run, prevDir), &b); err != nil {
			t.Fatal(err)
		}
		return a.Step, b.Step
	}
	stopAt := func(cancel context.CancelCauseFunc, at int) func(int) {
		return func(step int) {
			if step == at {
				cancel(errors.New("test interruption"))
			}
		}
	}
	t.Run("pretrain", func(t *testing.T) {
		dir := t.TempDir()
		cfg := tinyConfig(t, "max_steps=10", "eval_interval=5", "checkpoint_interval=2")
		straight, split := filepath.Join(dir, "straight"), filepath.Join(dir, "split")
		want, err := Pretrain(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		if sum, err := Pretrain(ctx, cfg, Options{OutDir: split, Log: io.Discard, AfterStep: stopAt(cancel, 4)}); err != nil || sum.Status != "interrupted" || sum.Step != 4 {
			t.Fatalf("interrupted run: %+v, %v", sum, err)
		}
		if ck, prev := steps(split); ck != 4 || prev != 2 {
			t.Errorf("checkpoint at step %d, checkpoint.prev at %d; want 4 and 2", ck, prev)
		}
		got, err := Pretrain(context.Background(), cfg, Options{OutDir: split, Resume: true, Log: io.Discard})
		if err != nil || lossOf(got.ValLoss) != lossOf(want.ValLoss) {
			t.Errorf("resumed: %+v, %v; want val_loss %v", got, err, lossOf(want.ValLoss))
		}
	})
	t.Run("finetune", func(t *testing.T) {
		dir := t.TempDir()
		cfg := synthClassifier(t, dir, 60, "batch_size: 8\nmax_steps: 10\neval_interval: 5\ncheckpoint_interval: 2\n")
		straight, split := filepath.Join(dir, "straight"), filepath.Join(dir, "split")
		want, err := Finetune(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		if sum, err := Finetune(ctx, cfg, Options{OutDir: split, Log: io.Discard, AfterStep: stopAt(cancel, 4)}); err != nil || sum.Status != "interrupted" || sum.Step != 4 {
			t.Fatalf("interrupted run: %+v, %v", sum, err)
		}
		if ck, prev := steps(split); ck != 4 || prev != 2 {
			t.Errorf("checkpoint at step %d, checkpoint.prev at %d; want 4 and 2", ck, prev)
		}
		got, err := Finetune(context.Background(), cfg, Options{OutDir: split, Resume: true, Log: io.Discard})
		if err != nil || !reflect.DeepEqual(got.Val, want.Val) {
			t.Errorf("resumed: %+v, %v; want val %v", got, err, want.Val)
		}
	})
}

// A write that fails says what the directory keeps: the previous
// checkpoint, or, for the first one, none (a resume would start over).
func TestCommitDirFailureNamesWhatIsKept(t *testing.T) {
	dir := t.TempDir()
	full := errors.New("write: no space left on device")
	fail := func(string) error { return full }
	err := commitDir(dir, "checkpoint", "checkpoint.prev", fail)
	if !errors.Is(err, full) || !strings.Contains(err.Error(), filepath.Join(dir, "checkpoint")+" was not written, and there was none before it") {
		t.Errorf("the first write failing: %v", err)
	}
	if err := commitDir(dir, "checkpoint", "checkpoint.prev", func(tmp string) error { return os.WriteFile(filepath.Join(tmp, "a"), []byte("1"), 0o644) }); err != nil {
		t.Fatal(err)
	}
	err = commitDir(dir, "checkpoint", "checkpoint.prev", fail)
	if !errors.Is(err, full) || !strings.Contains(err.Error(), filepath.Join(dir, "checkpoint")+" is kept as it was") {
		t.Errorf("a later write failing: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "checkpoint", "a")); err != nil || string(b) != "1" {
		t.Errorf("the kept checkpoint: %q, %v", b, err)
	}
}
