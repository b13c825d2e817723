package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gptctl/data"
)

// A validation loss that is not finite (the update overflowed the weights)
// stops a pretraining run as non-finite: exit status 3, a failed summary,
// and no best/ holding the broken model.
func TestPretrainNonFiniteValidation(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "lr=1e30", "min_lr=0", "warmup_steps=0", "max_steps=3", "eval_interval=1",
		"log_interval=1", "checkpoint_interval=0", "dropout=0")
	_, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard})
	var ne *NonFiniteError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "validation loss") {
		t.Fatalf("Pretrain: %T %v, want a NonFiniteError about the validation loss", err, err)
	}
	if s := readFile(t, filepath.Join(dir, "summary.json")); !strings.Contains(s, `"status": "failed"`) || !strings.Contains(s, `"step": 1,`) {
		t.Errorf("summary.json:\n%s", s)
	}
	// The step's line is written, without the validation loss, before the
	// run stops: the curves end where the summary does.
	if m := readFile(t, filepath.Join(dir, "metrics.jsonl")); stepsOf(m) != "1" || strings.Contains(m, "val_loss") {
		t.Errorf("metrics.jsonl:\n%s", m)
	}
	if _, err := os.Stat(filepath.Join(dir, "best")); err == nil {
		t.Error("best/ holds a model whose validation loss is not finite")
	}
}

// The same for a finetune: its validation outputs are checked before the
// metrics are taken from them.
func TestFinetuneNonFiniteValidation(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 40, "lr: 1.0e+30\nwarmup_fraction: 0\nmax_steps: 2\neval_interval: 1\nlog_interval: 1\ncheckpoint_interval: 0\n")
	out := filepath.Join(dir, "run")
	_, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard})
	var ne *NonFiniteError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "validation at step 1") {
		t.Fatalf("Finetune: %T %v, want a NonFiniteError at the first validation", err, err)
	}
	if s := readFile(t, filepath.Join(out, "summary.json")); !strings.Contains(s, `"status": "failed"`) {
		t.Errorf("summary.json:\n%s", s)
	}
	if m := readFile(t, filepath.Join(out, "metrics.jsonl")); stepsOf(m) != "1" || strings.Contains(m, "val_") {
		t.Errorf("metrics.jsonl:\n%s", m)
	}
}

// eval and predict of a finetuned model whose outputs overflow report a
// NonFiniteError naming the row, not a failure to print JSON halfway.
func TestTaskInferenceNonFinite(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 40, "max_steps: 2\neval_interval: 2\n")
	out := filepath.Join(dir, "run")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: out, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(out, "best", "model.safetensors")
	st, err := data.ReadSafetensors(model)
	if err != nil {
		t.Fatal(err)
	}
	var scaled []data.Tensor
	for _, name := range st.Order {
		w, err := st.Tensors[name].Float32()
		if err != nil {
			t.Fatal(err)
		}
		for i := range w {
			w[i] *= 1e30
		}
		scaled = append(scaled, data.F32Tensor(name, st.Tensors[name].Shape, w))
	}
	if err := data.WriteSafetensors(model, scaled, st.Metadata); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "d.tsv")
	var ne *NonFiniteError
	if _, err := EvalTask(filepath.Join(out, "best"), file, InferOptions{Batch: 4}); !errors.As(err, &ne) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("eval: %T %v, want a NonFiniteError naming line 2", err, err)
	}
	var preds strings.Builder
	if _, err := PredictTask(filepath.Join(out, "best"), file, &preds, InferOptions{Batch: 4}); !errors.As(err, &ne) || preds.Len() != 0 {
		t.Errorf("predict: %T %v, wrote %q; want a NonFiniteError and no output", err, err, preds.String())
	}
}

// hookSource calls before ahead of each Fill of its batch source.
type hookSource struct {
	batchSource
	before func()
}

func (h hookSource) Fill(in, tg []int32, b int) error {
	h.before()
	return h.batchSource.Fill(in, tg, b)
}

// Under on_nonfinite: skip, a skipped step still gets the evaluation due
// at it: when the last step is skipped, the run ends evaluated, its
// summary's val_loss that step's.
func TestSkippedLastStepIsEvaluated(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "on_nonfinite=skip", "max_steps=6", "eval_interval=100", "log_interval=1", "checkpoint_interval=0", "dropout=0")
	r, err := newRun(cfg, Options{OutDir: dir, Log: io.Discard}, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	w := r.params.Get("h.0.mlp.c_fc.weight").Data
	saved, fills := w[0], 0
	r.train = hookSource{r.train, func() { // the last step sees a NaN weight
		if fills++; fills == 6 {
			w[0] = float32(math.NaN())
		}
	}}
	r.val = hookSource{r.val, func() { w[0] = saved }} // which is gone by the evaluation
	sum, err := r.loop(context.Background())
	r.close()
	if err != nil {
		t.Fatal(err)
	}
	metrics := readFile(t, filepath.Join(dir, "metrics.jsonl"))
	lines := strings.Split(strings.TrimSpace(metrics), "\n")
	last := lines[len(lines)-1]
	if sum.Status != "completed" || sum.Step != 6 || len(lines) != 6 || !strings.Contains(last, `"step":6`) ||
		!strings.Contains(last, `"skipped":true`) || !strings.Contains(last, fmt.Sprintf(`"val_loss":%v`, lossOf(sum.ValLoss))) {
		t.Errorf("summary %+v\nmetrics.jsonl:\n%s", sum, metrics)
	}
}

// Every skipped step has its metrics line, between log_interval's.
func TestSkippedStepIsLogged(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "on_nonfinite=skip", "max_steps=6", "eval_interval=100", "log_interval=5", "checkpoint_interval=0", "dropout=0")
	r, err := newRun(cfg, Options{OutDir: dir, Log: io.Discard}, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	w := r.params.Get("h.0.mlp.c_fc.weight").Data
	var saved float32
	fills := 0
	r.train = hookSource{r.train, func() { // step 3 sees a NaN weight, step 4 the weight again
		switch fills++; fills {
		case 3:
			saved, w[0] = w[0], float32(math.NaN())
		case 4:
			w[0] = saved
		}
	}}
	_, err = r.loop(context.Background())
	r.close()
	if err != nil {
		t.Fatal(err)
	}
	metrics := readFile(t, filepath.Join(dir, "metrics.jsonl"))
	if got := stepsOf(metrics); got != "3 5 6" || !strings.Contains(lineWith(metrics, `"step":3`), `"skipped":true`) {
		t.Errorf("metrics.jsonl:\n%s\nwant lines for step 3 (skipped), 5 and 6", metrics)
	}
}

// A run that gives up after maxSkipped skipped steps has a metrics line for
// each of them, the last included.
func TestGivingUpLogsEverySkippedStep(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, "on_nonfinite=skip", "max_steps=30", "eval_interval=100", "log_interval=5", "checkpoint_interval=0", "dropout=0")
	r, err := newRun(cfg, Options{OutDir: dir, Log: io.Discard}, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	w := r.params.Get("h.0.mlp.c_fc.weight").Data
	r.train = hookSource{r.train, func() { w[0] = float32(math.NaN()) }}
	_, err = r.loop(context.Background())
	r.close()
	var ne *NonFiniteError
	if !errors.As(err, &ne) {
		t.Fatalf("loop: %v, want it to give up", err)
	}
	metrics := readFile(t, filepath.Join(dir, "metrics.jsonl"))
	if n := strings.Count(metrics, `"skipped":true`); n != maxSkipped {
		t.Errorf("%d skipped lines, want %d:\n%s", n, maxSkipped, metrics)
	}
}

// A finetune under on_nonfinite: skip skips a step whose loss is not
// finite (here a weight made NaN for step 3 alone), logs it whatever
// log_interval says, halves the learning rate and trains on; one that
// stays non-finite gives up after maxSkipped steps, each logged.
func TestFinetuneSkipsNonFiniteStep(t *testing.T) {
	run := func(nanFrom, nanTo int) (*FinetuneSummary, string, *ftRun, error) {
		t.Helper()
		dir := t.TempDir()
		cfg := synthClassifier(t, dir, 40, "on_nonfinite: skip\nmax_steps: 16\nbatch_size: 4\nlog_interval: 5\neval_interval: 100\ncheckpoint_interval: 0\ndropout: 0\nhead_dropout: 0\n")
		out := filepath.Join(dir, "run")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		var w []float32
		var saved float32
		opt := Options{OutDir: out, Log: io.Discard, AfterStep: func(step int) {
			switch step {
			case nanFrom - 1:
				saved, w[0] = w[0], float32(math.NaN())
			case nanTo:
				w[0] = saved
			}
		}}
		r, err := newFinetuneRun(cfg, opt, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		w = r.model.params.Get("h.0.mlp.c_fc.weight").Data
		sum, err := r.loop(context.Background())
		return sum, readFile(t, filepath.Join(out, metricsName)), r, err
	}
	sum, metrics, r, err := run(3, 3)
	if err != nil || sum.Status != "completed" || sum.Step != 16 || stepsOf(metrics) != "3 5 10 15 16" ||
		!strings.Contains(lineWith(metrics, `"step":3`), `"skipped":true`) || r.state.Skipped != 1 || r.state.lrScale() != 0.5 {
		t.Errorf("one non-finite step: %+v, %v, %d skipped, lr scale %v\nmetrics.jsonl:\n%s", sum, err, r.state.Skipped, r.state.lrScale(), metrics)
	}
	_, metrics, _, err = run(2, 1000)
	var ne *NonFiniteError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "giving up") || strings.Count(metrics, `"skipped":true`) != maxSkipped {
		t.Errorf("every step non-finite from step 2: %v\nmetrics.jsonl:\n%s", err, metrics)
	}
}

// A skipped step under grad_accum draws its grad_accum micro-batches like
// any other step (as the GPU trainer does), so the data position after it
// does not depend on which micro-batch went non-finite.
func TestSkippedStepDrawsAllMicroBatches(t *testing.T) {
	cfg := tinyConfig(t, "grad_accum=3", "max_steps=4", "on_nonfinite=skip", "checkpoint_interval=0", "eval_interval=0", "log_interval=1", "dropout=0")
	r, err := newRun(cfg, Options{OutDir: t.TempDir(), Log: io.Discard}, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	w := r.params.Get("h.0.mlp.c_fc.weight").Data
	var saved float32
	fills, nan := 0, false
	r.train = hookSource{r.train, func() {
		fills++
		switch {
		case r.state.Step == 1 && !nan:
			saved, w[0], nan = w[0], float32(math.NaN()), true
		case r.state.Step != 1 && nan:
			w[0], nan = saved, false
		}
	}}
	if _, err := r.loop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.state.Skipped != 1 || fills != 4*3 {
		t.Errorf("%d skipped, %d micro-batches drawn over 4 steps of grad_accum 3; want 1 skipped and 12 drawn", r.state.Skipped, fills)
	}
}
