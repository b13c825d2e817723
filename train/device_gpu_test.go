//go:build gpu

package train

import (
	"context"
	"errors"
	"io"
	"math"
	"path/filepath"
	"testing"

	"gptctl/data"
)

// needGPU skips a test where no GPU (or driver emulator, see the Makefile's
// test-cuda) is usable.
func needGPU(t *testing.T) {
	t.Helper()
	if _, err := openGPU(); err != nil {
		t.Skipf("no usable GPU: %v (make test-cuda runs this on the driver emulator)", err)
	}
}

// Pretraining on the GPU follows the CPU run: the same losses and weights to
// float32 rounding (TF32 off), with gradient accumulation; and a run
// interrupted and resumed on the GPU ends where an uninterrupted one does.
func TestPretrainOnGPU(t *testing.T) {
	needGPU(t)
	cfg := tinyConfig(t, "dropout=0", "grad_accum=2", "tf32=false", "max_steps=8", "eval_interval=4", "eval_batches=2",
		"log_interval=2", "checkpoint_interval=0")
	cpuDir, gpuDir, splitDir := t.TempDir(), t.TempDir(), t.TempDir()
	cpuCfg := cfg
	cpuCfg.Device = "cpu"
	a, err := Pretrain(context.Background(), cpuCfg, Options{OutDir: cpuDir, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	gpuCfg := cfg
	gpuCfg.Device = "cuda"
	b, err := Pretrain(context.Background(), gpuCfg, Options{OutDir: gpuDir, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if b.Device != "cuda" || math.Abs(a.ValLoss-b.ValLoss) > 1e-4*a.ValLoss || math.Abs(a.TrainLoss-b.TrainLoss) > 1e-4*a.TrainLoss {
		t.Errorf("GPU run %+v\nCPU run %+v: want the same losses to 1e-4", b, a)
	}
	t.Logf("val loss: cpu %.6f, gpu %.6f", a.ValLoss, b.ValLoss)
	weightsClose(t, "gpu vs cpu", filepath.Join(gpuDir, "checkpoint"), filepath.Join(cpuDir, "checkpoint"), 1e-4)

	ctx, cancel := context.WithCancelCause(context.Background())
	stop := func(step int) {
		if step == 3 {
			cancel(errors.New("test interruption"))
		}
	}
	if s, err := Pretrain(ctx, gpuCfg, Options{OutDir: splitDir, Log: io.Discard, AfterStep: stop}); err != nil || s.Status != "interrupted" {
		t.Fatalf("interrupted GPU run: %+v, %v", s, err)
	}
	c, err := Pretrain(context.Background(), gpuCfg, Options{OutDir: splitDir, Resume: true, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.ValLoss-b.ValLoss) > 1e-5*b.ValLoss {
		t.Errorf("resumed GPU run val_loss %.7f, uninterrupted %.7f", c.ValLoss, b.ValLoss)
	}
	weightsClose(t, "resumed vs uninterrupted", filepath.Join(splitDir, "checkpoint"), filepath.Join(gpuDir, "checkpoint"), 1e-5)
	if got, want := stepsOf(readFile(t, filepath.Join(splitDir, "metrics.jsonl"))), stepsOf(readFile(t, filepath.Join(gpuDir, "metrics.jsonl"))); got != want {
		t.Errorf("metrics steps %s, want %s", got, want)
	}
}

// weightsClose compares the model.safetensors of two model directories.
func weightsClose(t *testing.T, what, dirA, dirB string, tol float64) {
	t.Helper()
	a, err := data.ReadSafetensors(filepath.Join(dirA, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := data.ReadSafetensors(filepath.Join(dirB, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	worst, where := 0.0, ""
	for name, ta := range a.Tensors {
		fa, _ := ta.Float32()
		fb, err := b.Tensors[name].Float32()
		if err != nil || len(fa) != len(fb) {
			t.Fatalf("%s: tensor %s differs in shape: %v", what, name, err)
		}
		for i := range fa {
			if d := math.Abs(float64(fa[i] - fb[i])); d > worst {
				worst, where = d, name
			}
		}
	}
	t.Logf("%s: max weight difference %.3g (%s)", what, worst, where)
	if worst > tol {
		t.Errorf("%s: weights differ by up to %.3g in %s, want <= %g", what, worst, where, tol)
	}
}
