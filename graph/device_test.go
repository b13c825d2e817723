//go:build cuda

// The device executor against the CPU one: the same tiny GPT-1 and GPT-2
// graphs, with and without dropout (the device drawing the CPU's masks),
// trained a few steps on both, comparing the loss, every gradient, the
// gradient norm and every weight after clipping and AdamW. Without a GPU
// these run on the CPU emulator of the driver (scripts/cuda-emu):
//
//	scripts/cuda-emu/build.sh bin/cuda-emu && make cuda-deps
//	LD_LIBRARY_PATH=$PWD/bin/cuda-emu GPTCTL_CUBLAS=off \
//	  go test -modfile=build/cuda/go.mod -tags cuda -run Device ./graph

package graph

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gptctl/kernels"
)

// openDevice returns the GPU (or the emulator), or skips the test.
func openDevice(t *testing.T) *kernels.Device {
	t.Helper()
	d, err := kernels.OpenCUDA()
	if err != nil {
		t.Skipf("no usable GPU (%v): the device executor is not run; without a GPU, build the driver emulator "+
			"(scripts/cuda-emu/build.sh bin/cuda-emu) and run with LD_LIBRARY_PATH=$PWD/bin/cuda-emu GPTCTL_CUBLAS=off", err)
	}
	if err := d.SetTF32(false); err != nil {
		t.Fatal(err)
	}
	return d
}

// devConfig is the tiny model the device tests train (the emulator is slow).
func devConfig(arch string, dropout float32) Config {
	return Config{Arch: arch, VocabSize: 50, NCtx: 16, NEmbd: 32, NHead: 4, NLayer: 2, LNEps: 1e-5, Dropout: dropout}
}

const devB, devT = 3, 16

// lmModel builds the model of cfg over weights drawn from seed 5, with its
// LM loss; dropout masks come from seed 6.
func lmModel(t *testing.T, cfg Config, opts ...Option) (*Model, *G.Node, *G.Node) {
	t.Helper()
	p, err := NewParams(cfg, kernels.NewRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(p, devB, devT, kernels.NewRNG(6), opts...)
	if err != nil {
		t.Fatal(err)
	}
	loss, tg, err := m.LMLoss()
	if err != nil {
		t.Fatal(err)
	}
	return m, loss, tg
}

// fillBatch writes batch s of token ids and targets, some ignored (-1).
func fillBatch(m *Model, tg *G.Node, s int) {
	v := m.Params.Config.VocabSize
	in, tgt := Int32Data(m.Idx), Int32Data(tg)
	for i := range in {
		in[i] = int32((i*7 + 3 + 13*s) % v)
		tgt[i] = int32((i*5 + 1 + s) % v)
		if (i+s)%11 == 4 {
			tgt[i] = -1
		}
	}
}

// diffs tracks the largest differences of a comparison, by kind.
type diffs map[string]float64

// near checks |got-want| <= floor + rtol*(|want| + max|want|/10)
// elementwise (a relative bound, loosened for values far below the
// tensor's scale, whose summation order differs) and records the largest
// relative difference among those over floor. floor is 0 but where a
// value is 0 in exact arithmetic and float32 rounding of terms of order 1
// in both (the gradient of a bias every option of a softmax shares).
func (dd diffs) near(t *testing.T, kind, name string, got, want []float32, rtol, floor float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	var scale float64
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	worst, bad := 0.0, -1
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		den := math.Abs(w) + scale/10
		d := math.Abs(g - w)
		if math.IsNaN(g) != math.IsNaN(w) {
			d = math.Inf(1)
		}
		if d > floor {
			worst = max(worst, d/den)
		}
		if bad < 0 && d > floor+rtol*den {
			bad = i
		}
	}
	dd[kind] = max(dd[kind], worst)
	if bad >= 0 {
		t.Errorf("%s: device %g, cpu %g at %d (relative difference %.3g, bound %g)", name, got[bad], want[bad], bad, worst, rtol)
	}
}

func (dd diffs) log(t *testing.T) {
	t.Helper()
	keys := make([]string, 0, len(dd))
	for k := range dd {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("max relative difference, %-8s %.3g", k, dd[k])
	}
}

// TestDeviceTrainsAsCPU trains the same model three steps on the CPU
// Machine and on the DeviceMachine (dropout masks drawn on the host from
// the same RNG) and compares the loss, the logits, every gradient, the
// gradient norm, and every weight after clipping and AdamW.
func TestDeviceTrainsAsCPU(t *testing.T) {
	d := openDevice(t)
	for _, arch := range []string{"gpt1", "gpt2"} {
		for _, dropout := range []float32{0, 0.1} {
			t.Run(fmt.Sprintf("%s/dropout=%g", arch, dropout), func(t *testing.T) {
				trainBoth(t, d, devConfig(arch, dropout), 2, false)
			})
		}
	}
	// The LM head padded to 64 rows on the device (PadVocab, as GPU training
	// builds it), against the unpadded CPU model.
	t.Run("gpt2/padded_vocab", func(t *testing.T) { trainBoth(t, d, devConfig("gpt2", 0.1), 2, false, PadVocab(64)) })
}

// With flash attention (head size 16; TF32 products in the attention, so
// within 1e-3 rather than float32 rounding), every layer's attention goes
// through flash.cu and training still follows the CPU.
func TestDeviceFlashTrainsAsCPU(t *testing.T) {
	d := openDevice(t)
	if err := d.SetTF32(true); err != nil {
		t.Fatal(err)
	}
	defer d.SetTF32(false)
	d.SetFlash(true)
	defer d.SetFlash(false)
	for _, arch := range []string{"gpt1", "gpt2"} {
		t.Run(arch, func(t *testing.T) {
			cfg := devConfig(arch, 0)
			cfg.NHead = 2
			trainBoth(t, d, cfg, 2, true)
		})
	}
}

// With dropout, flash.cu recomputes the masks the batched path draws on
// the device from the same seeds: the two paths give the same training
// step, to TF32's rounding in the attention.
func TestDeviceFlashDropout(t *testing.T) {
	d := openDevice(t)
	if err := d.SetTF32(true); err != nil {
		t.Fatal(err)
	}
	defer d.SetTF32(false)
	defer d.SetFlash(false)
	cfg := devConfig("gpt1", 0.1)
	cfg.NHead = 2
	var losses []float32
	var grads [][][]float32
	var list []*Param
	for _, flash := range []bool{false, true} {
		m, loss, tg := lmModel(t, cfg)
		list = m.Params.List
		dt, err := m.DifferentiateOn(d, loss)
		if err != nil {
			t.Fatal(err)
		}
		defer dt.Close()
		d.SetFlash(flash)
		fillBatch(m, tg, 0)
		if err := dt.Step(); err != nil {
			t.Fatal(err)
		}
		l, err := dt.LossValue()
		if err != nil {
			t.Fatal(err)
		}
		if got, all := dt.Machine.Ops().FlashAttentions(); (got == all) != flash || all != cfg.NLayer {
			t.Fatalf("flash %v: %d of %d attention ops ran flash.cu", flash, got, all)
		}
		var gs [][]float32
		for i := range m.Params.List {
			g, err := dt.Grad(i)
			if err != nil {
				t.Fatal(err)
			}
			gs = append(gs, g)
		}
		losses, grads = append(losses, l), append(grads, gs)
	}
	dd := diffs{}
	dd.near(t, "loss", "loss", losses[1:], losses[:1], 1e-3, 0)
	for i, w := range list {
		dd.near(t, "grads", "grad "+w.Name, grads[1][i], grads[0][i], 5e-3, 0)
	}
	dd.log(t)
}

// unpad returns the first v columns of rows w apart.
func unpad(x []float32, v, w int) []float32 {
	if v == w {
		return x
	}
	out := make([]float32, 0, len(x)/w*v)
	for r := 0; r+w <= len(x); r += w {
		out = append(out, x[r:r+v]...)
	}
	return out
}

// trainBoth trains cfg's model on the CPU and on d (built with opts) for
// steps steps and compares them; flash says that d runs attention through
// flash.cu.
func trainBoth(t *testing.T, d *kernels.Device, cfg Config, steps int, flash bool, opts ...Option) {
	const lr, wd, clip = 1e-3, 0.1, 0.5
	// float32 rounding; or TF32's 10-bit mantissa in the attention.
	lossTol, tol := 1e-5, 1e-4
	if flash {
		lossTol, tol = 1e-3, 5e-3
	}
	cm, closs, ctg := lmModel(t, cfg)
	ct, err := cm.Differentiate(closs, cm.Logits)
	if err != nil {
		t.Fatal(err)
	}
	dm, dloss, dtg := lmModel(t, cfg, opts...)
	dt, err := dm.DifferentiateOn(d, dloss, dm.Logits)
	if err != nil {
		t.Fatal(err)
	}
	defer dt.Close()
	opt, err := dt.NewAdamW(0.9, 0.95, 1e-8, wd)
	if err != nil {
		t.Fatal(err)
	}
	list := cm.Params.List
	m, v := make([][]float32, len(list)), make([][]float32, len(list))
	for i, w := range list {
		m[i], v[i] = make([]float32, len(w.Data)), make([]float32, len(w.Data))
	}
	dd := diffs{}
	for s := range steps {
		fillBatch(cm, ctg, s)
		fillBatch(dm, dtg, s)
		want, err := ct.Step()
		if err != nil {
			t.Fatal(err)
		}
		if err := dt.Step(); err != nil {
			t.Fatal(err)
		}
		got, err := dt.LossValue()
		if err != nil {
			t.Fatal(err)
		}
		dd.near(t, "loss", fmt.Sprintf("step %d loss", s), []float32{got}, []float32{want}, lossTol, 0)
		rows, err := dt.LossRows()
		if err != nil || rows != LossRows(closs) {
			t.Errorf("step %d: the loss averaged %d rows on the device (%v), %d on the CPU", s, rows, err, LossRows(closs))
		}
		logits, err := dt.Value(dm.Logits)
		if err != nil {
			t.Fatal(err)
		}
		dd.near(t, "logits", fmt.Sprintf("step %d logits", s), unpad(logits, cm.Vocab, dm.Logits.Shape()[1]), ct.Value(cm.Logits), tol, 0)
		grads := make([][]float32, len(list))
		for i, w := range list {
			grads[i] = ct.Grad(i)
			g, err := dt.Grad(i)
			if err != nil {
				t.Fatal(err)
			}
			dd.near(t, "grads", fmt.Sprintf("step %d grad %s", s, w.Name), g, grads[i], tol, 0)
		}
		norm := ClipGrads(grads, clip)
		if err := dt.ClipGrads(clip); err != nil {
			t.Fatal(err)
		}
		gotNorm, _, _, err := dt.StepState()
		if err != nil {
			t.Fatal(err)
		}
		dd.near(t, "norm", fmt.Sprintf("step %d grad norm", s), []float32{float32(gotNorm)}, []float32{float32(norm)}, lossTol, 0)
		if s == 0 && norm <= clip {
			t.Errorf("grad norm %.3g is under the clip %g: the clipping is not exercised", norm, clip)
		}
		for i, w := range list {
			g, err := dt.Grad(i)
			if err != nil {
				t.Fatal(err)
			}
			dd.near(t, "clipped", fmt.Sprintf("step %d clipped grad %s", s, w.Name), g, grads[i], tol, 0)
			// AdamW turns a gradient at the level of rounding noise (the key
			// bias's, zero in exact arithmetic) into a step of about lr
			// either way: both optimizers get the CPU's gradients.
			b, err := dt.Machine.Buffer(dt.Grads[i])
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Upload(b, grads[i]); err != nil {
				t.Fatal(err)
			}
		}
		cm.Params.AdamWStep(grads, m, v, lr, 0.9, 0.95, 1e-8, wd, s+1)
		if err := opt.Update(lr); err != nil {
			t.Fatal(err)
		}
	}
	if err := dt.DownloadWeights(); err != nil {
		t.Fatal(err)
	}
	dm2, dv2 := make([][]float32, len(list)), make([][]float32, len(list))
	for i, w := range list {
		dm2[i], dv2[i] = make([]float32, len(w.Data)), make([]float32, len(w.Data))
	}
	if err := opt.Download(dm2, dv2); err != nil {
		t.Fatal(err)
	}
	for i, w := range list {
		dd.near(t, "weights", "weight "+w.Name, dm.Params.List[i].Data, w.Data, 1e-4, 0)
		dd.near(t, "moments", "AdamW m of "+w.Name, dm2[i], m[i], 1e-4, 0)
		dd.near(t, "moments", "AdamW v of "+w.Name, dv2[i], v[i], 1e-4, 0)
	}
	if got, all := dt.Machine.Ops().FlashAttentions(); all != cfg.NLayer || (got == all) != flash {
		t.Errorf("%d of %d attention ops ran flash.cu, want flash %v in all %d layers", got, all, flash, cfg.NLayer)
	}
	dd.log(t)
}

// TestDeviceDryRun compiles and runs training steps (with dropout, clipping
// and AdamW), evaluation and a finetuning head on a device that runs
// nothing: every launch of the executor is checked against the kernels'
// PTX signatures and launch limits, at sizes with partial tiles, on any
// machine.
func TestDeviceDryRun(t *testing.T) {
	for _, ptx := range []int{80, 90} {
		d, err := kernels.NewDryRunDevice(ptx)
		if err != nil {
			t.Fatal(err)
		}
		for _, arch := range []string{"gpt1", "gpt2"} {
			cfg := Config{Arch: arch, VocabSize: 1001, NCtx: 70, NEmbd: 96, NHead: 3, NLayer: 2, LNEps: 1e-5, Dropout: 0.1}
			p, err := NewParams(cfg, kernels.NewRNG(5))
			if err != nil {
				t.Fatal(err)
			}
			m, err := New(p, 2, 70, kernels.NewRNG(6))
			if err != nil {
				t.Fatal(err)
			}
			loss, _, err := m.LMLoss()
			if err != nil {
				t.Fatal(err)
			}
			dt, err := m.DifferentiateOn(d, loss, m.Logits)
			if err != nil {
				t.Fatalf("compute_%d %s: %v", ptx, arch, err)
			}
			opt, err := dt.NewAdamW(0.9, 0.95, 1e-8, 0.1)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []func() error{dt.Step, func() error { return dt.ClipGrads(1) },
				func() error { return opt.Update(1e-3) }, dt.Eval, dt.DownloadWeights} {
				if err := f(); err != nil {
					t.Errorf("compute_%d %s: %v", ptx, arch, err)
				}
			}
			if err := dt.Close(); err != nil {
				t.Fatal(err)
			}
		}
		for _, head := range []HeadConfig{
			{Objective: Regress, Rows: 2, Lambda: 0.5, Dropout: 0.1},
			{Objective: Choose, Rows: 3},
		} {
			p, _ := tinyTaskParams(t, head.Outputs())
			task, err := NewTask(p, head, 2, refT, kernels.NewRNG(8))
			if err != nil {
				t.Fatal(err)
			}
			dt, err := task.DifferentiateOn(d, task.Loss)
			if err != nil {
				t.Fatalf("compute_%d %s head: %v", ptx, head.Objective, err)
			}
			if err := dt.Step(); err != nil {
				t.Errorf("compute_%d %s head: %v", ptx, head.Objective, err)
			}
			if err := dt.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A step whose gradient norm is not finite is refused on the device
// without the host waiting for it: GuardStep marks it, AdamW leaves every
// weight alone, and every later step is refused too, finite or not, until
// the host reads StepState. A finite step with no refusal before it does
// update.
func TestDeviceRefusesNonFiniteStep(t *testing.T) {
	d := openDevice(t)
	m, loss, tg := lmModel(t, devConfig("gpt1", 0))
	dt, err := m.DifferentiateOn(d, loss)
	if err != nil {
		t.Fatal(err)
	}
	defer dt.Close()
	opt, err := dt.NewAdamW(0.9, 0.95, 1e-8, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() [][]float32 {
		if err := dt.DownloadWeights(); err != nil {
			t.Fatal(err)
		}
		var ws [][]float32
		for _, w := range m.Params.List {
			ws = append(ws, slices.Clone(w.Data))
		}
		return ws
	}
	same := func(a, b [][]float32) bool {
		for i := range a {
			for j := range a[i] {
				if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
					return false
				}
			}
		}
		return true
	}
	step := func(n int) {
		fillBatch(m, tg, n)
		if err := dt.Step(); err != nil {
			t.Fatal(err)
		}
		if err := dt.ClipGrads(1); err != nil {
			t.Fatal(err)
		}
		if err := dt.GuardStep(n); err != nil {
			t.Fatal(err)
		}
		if err := opt.Update(1e-3); err != nil {
			t.Fatal(err)
		}
	}
	fc := m.Params.Get("h.0.mlp.c_fc.weight")
	keep := fc.Data[0]
	// stepWith sets the first weight of fc on the device to v, runs step n
	// and reports whether the weights changed.
	stepWith := func(v float32, n int) bool {
		fc.Data[0] = v
		if err := dt.UploadWeights(); err != nil {
			t.Fatal(err)
		}
		before := snapshot()
		step(n)
		return !same(before, snapshot())
	}

	if !stepWith(keep, 1) {
		t.Fatal("a finite guarded step left the weights alone")
	}
	if norm, refused, first, err := dt.StepState(); err != nil || refused != 0 || first != 0 || !(norm > 0) {
		t.Fatalf("after a finite step: norm %v, %d refused (first %d), %v", norm, refused, first, err)
	}
	if stepWith(float32(math.NaN()), 2) {
		t.Error("a step with a NaN gradient norm changed the weights")
	}
	if stepWith(keep, 3) {
		t.Error("a finite step after a refused one changed the weights")
	}
	norm, refused, first, err := dt.StepState()
	if err != nil || refused != 1 || first != 2 || math.IsNaN(norm) {
		t.Errorf("after a refused step and a finite one: norm %v, %d refused (first %d), %v; want a finite norm, 1 refused, first 2",
			norm, refused, first, err)
	}
}

// A program that fails to compile for want of a device kernel leaves the
// nodes it planned complete: another program of the same machine that needs
// only those compiles.
func TestDeviceCompileAfterFailure(t *testing.T) {
	d, err := kernels.NewDryRunDevice(90)
	if err != nil {
		t.Fatal(err)
	}
	g := G.NewGraph()
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))))
	y := G.Must(G.Exp(w)) // no device kernel
	dm := NewDeviceMachine(d, g)
	defer dm.Close()
	if _, err := dm.Compile(y); err == nil || !strings.Contains(err.Error(), "exp") {
		t.Fatalf("compile of exp(w): %v, want an error naming the op without a device kernel", err)
	}
	if _, err := dm.Compile(w); err != nil {
		t.Fatalf("compile of w after the failure: %v", err)
	}
}
