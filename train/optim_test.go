package train

// The optimizer's pieces a user sets in train.yaml: the learning-rate
// schedule (lr, min_lr, warmup_steps, lr_decay) and grad_accum's averaging
// of the micro-batches' gradients (grad_clip's arithmetic:
// graph/optim_test.go).

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The learning rate a user sees in metrics.jsonl's lr: lr_decay linear and
// constant (cosine: TestLRSchedule). warmup_steps ramp linearly up to lr,
// reaching it at step warmup_steps-1; then linear falls in a straight line
// from lr at step warmup_steps to min_lr at max_steps, constant stays at
// lr; both give min_lr from max_steps on (steps count from 0, as LR's do).
func TestLRLinearConstant(t *testing.T) {
	for _, c := range []struct {
		decay               string
		step, warmup, total int
		peak, floor, want   float64
	}{
		// lr 1e-3, min_lr 1e-4, 100 warmup steps of 2000.
		{"linear", 0, 100, 2000, 1e-3, 1e-4, 1e-5},
		{"linear", 49, 100, 2000, 1e-3, 1e-4, 5e-4},
		{"linear", 99, 100, 2000, 1e-3, 1e-4, 1e-3},
		{"linear", 100, 100, 2000, 1e-3, 1e-4, 1e-3},
		{"linear", 575, 100, 2000, 1e-3, 1e-4, 7.75e-4},               // a quarter of the way: 1e-4 + 9e-4*3/4
		{"linear", 1050, 100, 2000, 1e-3, 1e-4, 5.5e-4},               // half way
		{"linear", 1525, 100, 2000, 1e-3, 1e-4, 3.25e-4},              // three quarters: 1e-4 + 9e-4/4
		{"linear", 1999, 100, 2000, 1e-3, 1e-4, 1.004736842105263e-4}, // the last step: 1e-4 + 9e-4/1900
		{"linear", 2000, 100, 2000, 1e-3, 1e-4, 1e-4},
		{"linear", 5000, 100, 2000, 1e-3, 1e-4, 1e-4},
		{"constant", 0, 100, 2000, 1e-3, 1e-4, 1e-5},
		{"constant", 49, 100, 2000, 1e-3, 1e-4, 5e-4},
		{"constant", 99, 100, 2000, 1e-3, 1e-4, 1e-3},
		{"constant", 100, 100, 2000, 1e-3, 1e-4, 1e-3},
		{"constant", 1050, 100, 2000, 1e-3, 1e-4, 1e-3},
		{"constant", 1999, 100, 2000, 1e-3, 1e-4, 1e-3},
		{"constant", 2000, 100, 2000, 1e-3, 1e-4, 1e-4},
		{"constant", 5000, 100, 2000, 1e-3, 1e-4, 1e-4},
		// No warmup: the first step at lr.
		{"linear", 0, 0, 10, 1, 0, 1},
		{"linear", 5, 0, 10, 1, 0, 0.5},
		{"linear", 9, 0, 10, 1, 0, 0.1},
		{"linear", 10, 0, 10, 1, 0, 0},
		{"constant", 0, 0, 10, 1, 0, 1},
		{"constant", 9, 0, 10, 1, 0, 1},
		// A finetune's defaults: min_lr 0, 2 warmup steps of 10.
		{"linear", 0, 2, 10, 6.25e-5, 0, 3.125e-5},
		{"linear", 1, 2, 10, 6.25e-5, 0, 6.25e-5},
		{"linear", 2, 2, 10, 6.25e-5, 0, 6.25e-5},
		{"linear", 6, 2, 10, 6.25e-5, 0, 3.125e-5},
		{"linear", 9, 2, 10, 6.25e-5, 0, 7.8125e-6}, // 6.25e-5/8
		{"linear", 10, 2, 10, 6.25e-5, 0, 0},
		// Warmup as long as the run: all warmup, min_lr after.
		{"linear", 4, 10, 10, 1e-3, 1e-4, 5e-4},
		{"linear", 9, 10, 10, 1e-3, 1e-4, 1e-3},
		{"linear", 10, 10, 10, 1e-3, 1e-4, 1e-4},
		{"constant", 4, 10, 10, 1e-3, 1e-4, 5e-4},
		{"constant", 10, 10, 10, 1e-3, 1e-4, 1e-4},
	} {
		if got := LR(c.step, c.warmup, c.total, c.peak, c.floor, c.decay); math.Abs(got-c.want) > 1e-12*c.peak {
			t.Errorf("lr_decay %s, lr %g, min_lr %g, warmup %d of %d steps: LR(%d) = %g, want %g",
				c.decay, c.peak, c.floor, c.warmup, c.total, c.step, got, c.want)
		}
	}
}

// grad_accum 2 over batches of 4 logs what one batch of 8 logs: each
// step's train_loss and grad_norm (the norm of the mean gradient, before
// clipping), and the validation loss over the same windows, with the
// gradients clipped (grad_clip 1, below this model's norms of about 1.3 to
// 1.6, so every step clips) or not (grad_clip 0, where the weights must
// agree too). TestGradAccumEqualsBigBatch compares only the weights, which
// cannot tell a sum of the micro-batches' gradients from their mean: a
// clipped gradient has the same norm either way, and AdamW's update barely
// changes when its gradients are scaled (only through eps).
func TestGradAccumMetricsEqualBigBatch(t *testing.T) {
	for _, clip := range []string{"grad_clip=1", "grad_clip=0"} {
		t.Run(clip, func(t *testing.T) {
			run := func(sets ...string) string {
				t.Helper()
				dir := t.TempDir()
				cfg := tinyConfig(t, append(sets, clip, "dropout=0", "max_steps=6", "log_interval=1")...)
				if _, err := Pretrain(context.Background(), cfg, Options{OutDir: dir, Log: io.Discard}); err != nil {
					t.Fatal(err)
				}
				return dir
			}
			// eval_batches 6 of 4 windows are the 3 of 8 windows of the big
			// batch's run, in order.
			accum, big := run("batch_size=4", "grad_accum=2", "eval_batches=6"), run("batch_size=8", "eval_batches=3")
			metricsClose(t, filepath.Join(accum, metricsName), filepath.Join(big, metricsName), 1e-5)
			tensorsClose(t, fmt.Sprintf("%s, grad_accum 2 against batch 8", clip), filepath.Join(accum, "checkpoint", "model.safetensors"),
				filepath.Join(big, "checkpoint", "model.safetensors"), 1e-5, nil)
		})
	}
}

// min_lr is where cosine and linear decay end, so it may not exceed lr;
// a constant schedule never reaches it, and an lr below the default
// min_lr is taken (pretrain and finetune alike).
func TestMinLRAboveLR(t *testing.T) {
	ft := filepath.Join(t.TempDir(), "ft.yaml")
	if err := os.WriteFile(ft, []byte("init_from: x\ntask:\n  type: classification\n  train: t.tsv\n  columns: {text: s, label: l}\n  labels: [a, b]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, decay := range []string{"cosine", "linear", "constant"} {
		_, err := Load("", []string{"lr=5e-5", "lr_decay=" + decay})
		_, ftErr := LoadFinetune(ft, []string{"lr=5e-5", "min_lr=1e-4", "lr_decay=" + decay})
		for _, c := range []struct {
			what string
			err  error
		}{{"pretrain", err}, {"finetune", ftErr}} {
			if (c.err == nil) != (decay == "constant") {
				t.Errorf("%s, lr 5e-5 under min_lr 1e-4, lr_decay %s: %v", c.what, decay, c.err)
			}
			if c.err != nil && !strings.Contains(c.err.Error(), "min_lr 0.0001 must satisfy 0 <= min_lr <= lr") {
				t.Errorf("%s, lr_decay %s: %v, want the rule named", c.what, decay, c.err)
			}
		}
	}
}
