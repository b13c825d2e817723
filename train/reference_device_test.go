//go:build gpu

// The reference vectors of reference_test.go (PyTorch, float32; see
// the README in their folder) through the device executor: logits, loss,
// every gradient, the gradient norm and every weight after one AdamW step
// on the device, with the same tolerances.

package train

import (
	"path/filepath"
	"testing"

	"gptctl/kernels"
)

func TestDeviceReferenceVectors(t *testing.T) {
	dir := referenceDir(t)
	cases, _ := filepath.Glob(filepath.Join(dir, "*", "expected.safetensors"))
	if len(cases) == 0 {
		t.Skipf("no case folders under %s", dir)
	}
	d, err := kernels.OpenCUDA()
	if err != nil {
		t.Skipf("no usable GPU (%v): see device_test.go for the driver emulator", err)
	}
	if err := d.SetTF32(false); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		c := filepath.Dir(c)
		t.Run(filepath.Base(c), func(t *testing.T) { deviceReferenceCase(t, d, c) })
	}
}

func deviceReferenceCase(t *testing.T, d *kernels.Device, dir string) {
	rc := loadReferenceCase(t, dir)
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
	checkClose(t, "logits", logits, floats(t, want, "logits"), 1e-4, 0)
	checkClose(t, "loss", []float32{l}, floats(t, want, "loss"), 1e-4, 0)
	for i, w := range p.List {
		g, err := dt.Grad(i)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, "grad."+w.Name, g, floats(t, want, "grad."+w.Name), 1e-5, 1e-3)
	}
	if err := dt.ClipGrads(0); err != nil { // measures the norm, scales nothing
		t.Fatal(err)
	}
	norm, err := dt.GradNorm()
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "grad_norm", []float32{float32(norm)}, floats(t, want, "grad_norm"), 1e-5, 1e-3)
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
	for _, w := range p.List {
		checkClose(t, "step1."+w.Name, w.Data, floats(t, want, "step1."+w.Name), 1e-5, 1e-3)
	}
}
