package train

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// A run under on_nonfinite: skip that skipped a step, interrupted and
// resumed, ends bit for bit as the same run uninterrupted: a skipped step
// makes no optimizer update, so the optimizer's step count (its bias
// corrections) lags the run's, and the checkpoint must bring back the
// optimizer's own count, not the run's.
func TestResumeAfterSkippedStepIsExact(t *testing.T) {
	cfg := tinyConfig(t, "on_nonfinite=skip", "checkpoint_interval=0")
	// start runs the run in dir, step 3 seeing a NaN weight, up to its
	// end or an interruption after step stop.
	start := func(dir string, stop int) (*Summary, *run) {
		t.Helper()
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		r, err := newRun(cfg, Options{OutDir: dir, Log: io.Discard, AfterStep: func(step int) {
			if step == stop {
				cancel(errors.New("test interruption"))
			}
		}}, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		w := r.params.Get("h.0.mlp.c_fc.weight").Data
		var saved float32
		fills := 0
		r.train = hookSource{r.train, func() {
			switch fills++; fills {
			case 3:
				saved, w[0] = w[0], float32(math.NaN())
			case 4:
				w[0] = saved
			}
		}}
		sum, err := r.loop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return sum, r
	}
	straight, split := t.TempDir(), t.TempDir()
	if sum, r := start(straight, 0); sum.Status != "completed" || sum.Step != 20 || r.state.Skipped != 1 {
		t.Fatalf("uninterrupted run: %+v, %d steps skipped; want 20 steps, 1 skipped", sum, r.state.Skipped)
	}
	if sum, r := start(split, 6); sum.Status != "interrupted" || sum.Step != 6 || r.state.Skipped != 1 {
		t.Fatalf("interrupted run: %+v, %d steps skipped; want 6 steps, 1 skipped", sum, r.state.Skipped)
	}
	var st State
	if err := readState(filepath.Join(split, checkpointDir), &st); err != nil || st.Step != 6 || st.AdamStep != 5 {
		t.Fatalf("checkpoint at step 6 after a skipped step: step %d, adam_step %d (%v); want 6 and 5", st.Step, st.AdamStep, err)
	}
	if sum, err := Pretrain(context.Background(), cfg, Options{OutDir: split, Resume: true, Log: io.Discard}); err != nil || sum.Status != "completed" || sum.Step != 20 {
		t.Fatalf("resumed run: %+v, %v", sum, err)
	}
	for _, f := range []string{"checkpoint/model.safetensors", "checkpoint/optimizer.safetensors", "best/model.safetensors"} {
		if readFile(t, filepath.Join(straight, f)) != readFile(t, filepath.Join(split, f)) {
			t.Errorf("%s differs between the straight run and the one resumed at step 6, after skipping step 3", f)
		}
	}
	if a, b := untimed(t, filepath.Join(straight, metricsName)), untimed(t, filepath.Join(split, metricsName)); a != b {
		t.Errorf("metrics.jsonl differs:\n%s\nvs, resumed at step 6 after skipping step 3:\n%s", a, b)
	}
}

// The same for a finetune (dropout on, so the model RNG must resume too).
func TestFinetuneResumeAfterSkippedStepIsExact(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 8\nepochs: 2\neval_interval: 5\non_nonfinite: skip\n")
	// start runs the finetune in out, step 3 seeing a NaN weight, up to
	// its end or an interruption after step stop.
	start := func(out string, stop int) (*FinetuneSummary, *ftRun) {
		t.Helper()
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		var w []float32
		var saved float32
		r, err := newFinetuneRun(cfg, Options{OutDir: out, Log: io.Discard, AfterStep: func(step int) {
			switch step {
			case 2:
				saved, w[0] = w[0], float32(math.NaN())
			case 3:
				w[0] = saved
			}
			if step == stop {
				cancel(errors.New("test interruption"))
			}
		}}, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		w = r.model.params.Get("h.0.mlp.c_fc.weight").Data
		sum, err := r.loop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return sum, r
	}
	straight, split := filepath.Join(dir, "straight"), filepath.Join(dir, "split")
	if sum, r := start(straight, 0); sum.Status != "completed" || sum.Step != 12 || r.state.Skipped != 1 {
		t.Fatalf("uninterrupted finetune: %+v, %d steps skipped; want 12 steps, 1 skipped", sum, r.state.Skipped)
	}
	if sum, r := start(split, 7); sum.Status != "interrupted" || sum.Step != 7 || r.state.Skipped != 1 {
		t.Fatalf("interrupted finetune: %+v, %d steps skipped; want 7 steps, 1 skipped", sum, r.state.Skipped)
	}
	var st finetuneState
	if err := readState(filepath.Join(split, checkpointDir), &st); err != nil || st.Step != 7 || st.AdamStep != 6 {
		t.Fatalf("checkpoint at step 7 after a skipped step: step %d, adam_step %d (%v); want 7 and 6", st.Step, st.AdamStep, err)
	}
	if sum, err := Finetune(context.Background(), cfg, Options{OutDir: split, Resume: true, Log: io.Discard}); err != nil || sum.Status != "completed" || sum.Step != 12 {
		t.Fatalf("resumed finetune: %+v, %v", sum, err)
	}
	for _, f := range []string{"checkpoint/model.safetensors", "checkpoint/head.safetensors", "checkpoint/optimizer.safetensors", "best/head.safetensors"} {
		if readFile(t, filepath.Join(straight, f)) != readFile(t, filepath.Join(split, f)) {
			t.Errorf("%s differs between the straight finetune and the one resumed at step 7, after skipping step 3", f)
		}
	}
	if a, b := untimed(t, filepath.Join(straight, metricsName)), untimed(t, filepath.Join(split, metricsName)); a != b {
		t.Errorf("metrics.jsonl differs:\n%s\nvs, resumed at step 7 after skipping step 3:\n%s", a, b)
	}
}
