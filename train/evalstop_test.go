package train

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// tripCtx is a context that a test cancels at a known point of a run: once
// armed with n, the n-th call of Err from then on, and every later one,
// reports it cancelled. The loops ask Err before each step and before each
// evaluation batch, so n counts those checks.
type tripCtx struct {
	context.Context
	left atomic.Int64 // checks left before it trips; 0: not armed
	trip atomic.Bool
}

func (c *tripCtx) arm(n int) { c.left.Store(int64(n)) }

func (c *tripCtx) Err() error {
	if c.trip.Load() {
		return context.Canceled
	}
	if c.left.Load() > 0 && c.left.Add(-1) == 0 {
		c.trip.Store(true)
		return context.Canceled
	}
	return nil
}

func newTripCtx(armAt, n int) (*tripCtx, func(step int)) {
	c := &tripCtx{Context: context.Background()}
	return c, func(step int) {
		if step == armAt {
			c.arm(n)
		}
	}
}

// A signal in the middle of an evaluation stops it there: the checkpoint
// keeps the evaluation due, a resume makes it first, and the run ends as
// an uninterrupted one, metrics included. Stopped at step 10's evaluation
// (after one of its three batches) and again at the last step's.
func TestSignalDuringEvaluation(t *testing.T) {
	straight, split := t.TempDir(), t.TempDir()
	cfg := tinyConfig(t, "checkpoint_interval=0")
	if _, err := Pretrain(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	// Err is asked before step 10 and before each evaluation batch: the
	// third check after step 9 comes after the first batch.
	for i, stop := range []int{9, 19} {
		ctx, arm := newTripCtx(stop, 3)
		var log bytes.Buffer
		sum, err := Pretrain(ctx, cfg, Options{OutDir: split, Resume: i > 0, Log: &log, AfterStep: arm})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Status != "interrupted" || sum.Step != stop+1 || !strings.Contains(log.String(), "evaluation was stopped") {
			t.Fatalf("run stopped in the evaluation after step %d: %+v\n%s", stop+1, sum, log.String())
		}
		var st State
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(split, "checkpoint", "state.json"))), &st); err != nil {
			t.Fatal(err)
		}
		if st.EvalDue == nil {
			t.Fatalf("state.json after a stopped evaluation has no eval_due")
		}
		if strings.Contains(readFile(t, filepath.Join(split, "metrics.jsonl")), `"step":`+strconv.Itoa(stop+1)+`,`) {
			t.Errorf("metrics.jsonl has step %d, whose evaluation was stopped", stop+1)
		}
	}
	sum, err := Pretrain(context.Background(), cfg, Options{OutDir: split, Resume: true, Log: io.Discard})
	if err != nil || sum.Status != "completed" || sum.Step != 20 {
		t.Fatalf("resume after the last step's stopped evaluation: %+v, %v", sum, err)
	}
	for _, f := range []string{"checkpoint/model.safetensors", "checkpoint/optimizer.safetensors", "best/model.safetensors"} {
		if readFile(t, filepath.Join(straight, f)) != readFile(t, filepath.Join(split, f)) {
			t.Errorf("%s differs between the straight and the resumed run", f)
		}
	}
	if a, b := untimed(t, filepath.Join(straight, "metrics.jsonl")), untimed(t, filepath.Join(split, "metrics.jsonl")); a != b {
		t.Errorf("metrics.jsonl differs:\n%s\nvs, stopped in two evaluations:\n%s", a, b)
	}
}

// The same for a finetune: its evaluation runs over the validation
// examples in batches, and a signal stops it between two.
func TestFinetuneSignalDuringEvaluation(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 4\nepochs: 2\neval_interval: 5\n")
	straight, split := filepath.Join(dir, "straight"), filepath.Join(dir, "split")
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	total := 2 * 12 // 48 training rows in batches of 4, two epochs
	for i, stop := range []int{4, total - 1} {
		ctx, arm := newTripCtx(stop, 3)
		var log bytes.Buffer
		sum, err := Finetune(ctx, cfg, Options{OutDir: split, Resume: i > 0, Log: &log, AfterStep: arm})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Status != "interrupted" || sum.Step != stop+1 || !strings.Contains(log.String(), "evaluation was stopped") {
			t.Fatalf("finetune stopped in the evaluation after step %d: %+v\n%s", stop+1, sum, log.String())
		}
	}
	sum, err := Finetune(context.Background(), cfg, Options{OutDir: split, Resume: true, Log: io.Discard})
	if err != nil || sum.Status != "completed" || sum.Step != total {
		t.Fatalf("resume after the last step's stopped evaluation: %+v, %v", sum, err)
	}
	for _, f := range []string{"checkpoint/model.safetensors", "checkpoint/head.safetensors", "checkpoint/optimizer.safetensors", "best/head.safetensors"} {
		if readFile(t, filepath.Join(straight, f)) != readFile(t, filepath.Join(split, f)) {
			t.Errorf("%s differs between the straight and the resumed run", f)
		}
	}
	if a, b := untimed(t, filepath.Join(straight, "metrics.jsonl")), untimed(t, filepath.Join(split, "metrics.jsonl")); a != b {
		t.Errorf("metrics.jsonl differs:\n%s\nvs, stopped in two evaluations:\n%s", a, b)
	}
}

// copyRun copies a run directory as a kill would leave it on disk, without
// its lock file.
func copyRun(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dst, ".lock"))
}

// A kill after the resumed evaluation but before the next checkpoint: the
// run resumes once more from the checkpoint that holds the evaluation due
// (pretraining: its metrics line is written again, not twice) or from the
// one the due step wrote (a finetune that checkpoints there: it must not
// hold the evaluation due with the log window it emptied), and ends as an
// uninterrupted run.
func TestKillAfterResumedEvaluation(t *testing.T) {
	dir := t.TempDir()
	t.Run("pretrain", func(t *testing.T) {
		straight, split, killed := filepath.Join(dir, "p-straight"), filepath.Join(dir, "p-split"), filepath.Join(dir, "p-killed")
		cfg := tinyConfig(t, "checkpoint_interval=0")
		if _, err := Pretrain(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard}); err != nil {
			t.Fatal(err)
		}
		ctx, arm := newTripCtx(9, 3)
		if _, err := Pretrain(ctx, cfg, Options{OutDir: split, Log: io.Discard, AfterStep: arm}); err != nil {
			t.Fatal(err)
		}
		snap := func(step int) {
			if step == 12 {
				copyRun(t, split, killed)
			}
		}
		if _, err := Pretrain(context.Background(), cfg, Options{OutDir: split, Resume: true, Log: io.Discard, AfterStep: snap}); err != nil {
			t.Fatal(err)
		}
		if _, err := Pretrain(context.Background(), cfg, Options{OutDir: killed, Resume: true, Log: io.Discard}); err != nil {
			t.Fatal(err)
		}
		if a, b := untimed(t, filepath.Join(straight, "metrics.jsonl")), untimed(t, filepath.Join(killed, "metrics.jsonl")); a != b {
			t.Errorf("metrics.jsonl differs:\n%s\nvs, killed after the resumed evaluation:\n%s", a, b)
		}
		if readFile(t, filepath.Join(straight, "checkpoint/model.safetensors")) != readFile(t, filepath.Join(killed, "checkpoint/model.safetensors")) {
			t.Error("the weights differ")
		}
	})
	t.Run("finetune", func(t *testing.T) {
		sub := filepath.Join(dir, "ft")
		os.MkdirAll(sub, 0o755)
		cfg := synthClassifier(t, sub, 60, "batch_size: 4\nepochs: 1\neval_interval: 5\ncheckpoint_interval: 5\n")
		straight, split, killed := filepath.Join(sub, "straight"), filepath.Join(sub, "split"), filepath.Join(sub, "killed")
		if _, err := Finetune(context.Background(), cfg, Options{OutDir: straight, Log: io.Discard}); err != nil {
			t.Fatal(err)
		}
		ctx, arm := newTripCtx(4, 3)
		if _, err := Finetune(ctx, cfg, Options{OutDir: split, Log: io.Discard, AfterStep: arm}); err != nil {
			t.Fatal(err)
		}
		snap := func(step int) {
			if step == 6 {
				copyRun(t, split, killed)
			}
		}
		if _, err := Finetune(context.Background(), cfg, Options{OutDir: split, Resume: true, Log: io.Discard, AfterStep: snap}); err != nil {
			t.Fatal(err)
		}
		if _, err := Finetune(context.Background(), cfg, Options{OutDir: killed, Resume: true, Log: io.Discard}); err != nil {
			t.Fatalf("resume after a kill that followed the resumed evaluation: %v", err)
		}
		if a, b := untimed(t, filepath.Join(straight, "metrics.jsonl")), untimed(t, filepath.Join(killed, "metrics.jsonl")); a != b {
			t.Errorf("metrics.jsonl differs:\n%s\nvs, killed after the resumed evaluation:\n%s", a, b)
		}
		if readFile(t, filepath.Join(straight, "checkpoint/head.safetensors")) != readFile(t, filepath.Join(killed, "checkpoint/head.safetensors")) {
			t.Error("the head differs")
		}
	})
}

// The line of the evaluation a resume makes first keeps the throughput of
// the session that trained the step, and the evaluation happens though
// the resume changed eval_interval so that the step no longer has one.
func TestFinetuneDueEvaluationLine(t *testing.T) {
	dir := t.TempDir()
	cfg := synthClassifier(t, dir, 60, "batch_size: 4\nepochs: 1\neval_interval: 5\n")
	run := filepath.Join(dir, "run")
	ctx, arm := newTripCtx(4, 3)
	if _, err := Finetune(ctx, cfg, Options{OutDir: run, Log: io.Discard, AfterStep: arm}); err != nil {
		t.Fatal(err)
	}
	cfg.EvalInterval = 0
	if _, err := Finetune(context.Background(), cfg, Options{OutDir: run, Resume: true, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lineWith(readFile(t, filepath.Join(run, "metrics.jsonl")), `"step":5,`)), &m); err != nil {
		t.Fatal(err)
	}
	if tps, _ := m["tokens_per_s"].(float64); tps <= 0 || m["val_accuracy"] == nil {
		t.Errorf("the line of step 5: %v; want its tokens_per_s and its evaluation", m)
	}
}
