package train

// The optimizer's pieces a user sets in train.yaml: grad_clip, the
// learning-rate schedule (lr, min_lr, warmup_steps, lr_decay) and
// grad_accum's averaging of the micro-batches' gradients.

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// grad_clip bounds the global gradient norm, the norm over all the model's
// gradients together (not each tensor's): a step whose norm is above it
// has every gradient scaled by the same factor, so the norm is grad_clip
// and the update keeps its direction; a step at or below it, and every
// step with grad_clip 0 (off), keeps its gradients as they were.
// ClipGrads returns the norm before clipping, which metrics.jsonl logs as
// grad_norm.
func TestClipGrads(t *testing.T) {
	long := make([]float32, 3000) // more than one block of the sum of squares
	for i := range long {
		long[i] = 0.01 * float32(math.Sin(float64(i)))
	}
	for _, c := range []struct {
		name    string
		grads   [][]float32
		maxNorm float64
		clipped bool
	}{
		// 3, 4 and 12 over two tensors: a global norm of 13, where each
		// tensor's is 5 and 12.
		{"below the limit", [][]float32{{3, -4}, {0, 0, 0}, {12}}, 20, false},
		{"at the limit", [][]float32{{3, -4}, {0, 0, 0}, {12}}, 13, false},
		{"above each tensor's norm, below the global one", [][]float32{{3, -4}, {0, 0, 0}, {12}}, 12.5, true},
		{"above the limit", [][]float32{{3, -4}, {0, 0, 0}, {12}}, 1, true},
		{"far above the limit", [][]float32{{3e3, -4e3}, {12e3}}, 0.5, true},
		{"a limit above 1", [][]float32{{30, -40}, {120}}, 5, true},
		{"grad_clip 0: off", [][]float32{{3, -4}, {12}}, 0, false},
		{"a negative limit: off", [][]float32{{3, -4}, {12}}, -1, false},
		{"a weight without a gradient", [][]float32{{3, -4}, nil, {12}}, 1, true},
		{"long tensors", [][]float32{long, {1, -2, 3}, slices.Clone(long[:1000])}, 0.25, true},
		{"squares beyond float32", [][]float32{{3e20, -4e20}, {12e20}}, 1, true},
		{"all zero", [][]float32{{0, 0}, {0}}, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var sum float64
			orig := make([][]float32, len(c.grads))
			for i, g := range c.grads {
				orig[i] = slices.Clone(g)
				for _, v := range g {
					sum += float64(v) * float64(v)
				}
			}
			want := math.Sqrt(sum)
			norm := ClipGrads(c.grads, c.maxNorm)
			if math.Abs(norm-want) > 1e-6*want {
				t.Errorf("%s: ClipGrads returned norm %v, want the norm before clipping %v", c.name, norm, want)
			}
			if !c.clipped {
				for i := range orig {
					if !slices.Equal(c.grads[i], orig[i]) {
						t.Errorf("%s: gradient %d changed to %v, want it as it was, %v (norm %v, grad_clip %v)", c.name, i, c.grads[i], orig[i], want, c.maxNorm)
					}
				}
				return
			}
			// The norm after clipping is grad_clip (to float32 rounding),
			// and every element is scaled by the same factor.
			scale := c.maxNorm / want
			var after float64
			for i, g := range c.grads {
				if len(g) != len(orig[i]) {
					t.Fatalf("%s: gradient %d has %d elements after clipping, want %d", c.name, i, len(g), len(orig[i]))
				}
				for j, v := range g {
					after += float64(v) * float64(v)
					if w := scale * float64(orig[i][j]); math.Abs(float64(v)-w) > 1e-6*math.Abs(w) {
						t.Fatalf("%s: gradient %d[%d] = %v after clipping, want %v (%v scaled by grad_clip/norm = %v)", c.name, i, j, v, w, orig[i][j], scale)
					}
				}
			}
			if after = math.Sqrt(after); math.Abs(after-c.maxNorm) > 1e-6*c.maxNorm {
				t.Errorf("%s: global norm %v after clipping (%v before), want grad_clip %v", c.name, after, want, c.maxNorm)
			}
		})
	}
}

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
