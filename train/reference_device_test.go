//go:build cuda

// The reference vectors of reference_test.go (PyTorch, float32; see
// the README in their folder) through the device executor: logits, loss,
// every gradient, the gradient norm and every weight after one AdamW step
// on the device: in float32 with the same tolerances, and with TF32 tensor
// cores (training's default on a GPU) within 1e-3, the logits and loss
// within 2e-3: TF32 keeps 10 bits of each operand (unit roundoff 2^-11,
// 4.9e-4), and logits near 1 after two or three layers of such products
// came within 1.16e-3 of PyTorch's on an H200. One AdamW step moves a
// weight by about lr whatever its gradient's size, so a gradient near zero
// whose sign TF32 flips moves it by 2*lr: TF32's step1 bound is 2e-3 and
// some rounding (2.1e-3). With flash attention (flash.cu, TF32 products)
// on the cases whose head size it takes, within the same TF32 bounds.

package train

import (
	"maps"
	"slices"
	"testing"

	"gptctl/graph"
)

func TestDeviceReferenceVectors(t *testing.T) {
	cases := referenceCases(t)
	d, err := graph.OpenCUDA()
	if err != nil {
		t.Skipf("no usable GPU (%v): see device_test.go for the driver emulator", err)
	}
	defer d.SetTF32(false)
	defer d.SetFlash(false)
	if err := d.SetBF16(false); err != nil {
		t.Fatal(err)
	}
	for _, tol := range []refTol{{"fp32", false, false, 1e-4, 1e-5, 1e-3, 1e-5},
		{"tf32", true, false, 2e-3, 1e-3, 1e-2, 2.1e-3}, {"tf32+flash", true, true, 2e-3, 1e-3, 1e-2, 2.1e-3}} {
		if err := d.SetTF32(tol.tf32); err != nil {
			t.Fatal(err)
		}
		d.SetFlash(tol.flash)
		if tol.tf32 && !tol.flash && !d.UsesCublas() {
			continue // TF32 is cuBLAS's; gemm.cu computes in float32
		}
		for _, name := range slices.Sorted(maps.Keys(cases)) {
			t.Run(name+"/"+tol.name, func(t *testing.T) { deviceReferenceCase(t, d, cases[name], tol) })
		}
	}
}

// refTol are the tolerances of one precision: absolute for the logits and
// loss, absolute and relative for gradients and the norm, absolute (with
// relative 1e-3) for the weights after one step.
type refTol struct {
	name                  string
	tf32, flash           bool
	out, grad, rel, step1 float64
}

func deviceReferenceCase(t *testing.T, d *graph.Device, dir string, tol refTol) {
	rc := loadReferenceCase(t, dir)
	if cfg := rc.p.Config; tol.flash && !d.FlashAttention(cfg.NEmbd/cfg.NHead) {
		t.Skipf("head size %d: flash.cu does not take it", cfg.NEmbd/cfg.NHead)
	}
	p, m, loss, want := rc.p, rc.m, rc.loss, rc.want
	dt, err := m.DifferentiateOn(d, loss, m.Logits)
	if err != nil {
		t.Fatal(err)
	}
	defer dt.Close()
	if err := dt.Step(); err != nil {
		t.Fatal(err)
	}
	logits, err := dt.Value(m.Logits)
	if err != nil {
		t.Fatal(err)
	}
	l, err := dt.LossValue()
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "logits", logits, floats(t, want, "logits"), tol.out, 0)
	checkClose(t, "loss", []float32{l}, floats(t, want, "loss"), tol.out, 0)
	grads := make([][]float32, len(p.List))
	for i, w := range p.List {
		g, err := dt.Grad(i)
		if err != nil {
			t.Fatal(err)
		}
		grads[i] = g
		checkClose(t, "grad."+w.Name, g, floats(t, want, "grad."+w.Name), tol.grad, tol.rel)
	}
	if err := dt.ClipGrads(0); err != nil { // measures the norm, scales nothing
		t.Fatal(err)
	}
	norm, _, _, err := dt.StepState()
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "grad_norm", []float32{float32(norm)}, floats(t, want, "grad_norm"), tol.grad, tol.rel)
	opt, err := dt.NewAdamW(0.9, 0.999, 1e-8, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if err := opt.Update(1e-3); err != nil {
		t.Fatal(err)
	}
	if err := dt.DownloadWeights(); err != nil {
		t.Fatal(err)
	}
	for i, w := range p.List { // the slack: see checkReferenceCase
		slack := adamStep1Slack(grads[i], floats(t, want, "grad."+w.Name), 1e-3, 1e-8)
		checkCloseSlack(t, "step1."+w.Name, w.Data, floats(t, want, "step1."+w.Name), tol.step1, 1e-3, slack)
	}
}
