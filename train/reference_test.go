package train

// The reference test, in the style of llm.c's test_gpt2: every case folder
// under GPTCTL_REFERENCE_DIR (default ../../shared/reference) holds a small
// model, one batch and what PyTorch computed from them. gptctl must
// reproduce the logits, the loss, every gradient and every weight after one
// AdamW step.

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	G "gorgonia.org/gorgonia"

	"gptctl/data"
	"gptctl/graph"
	"gptctl/kernels"
)

func referenceDir(t *testing.T) string {
	dir := os.Getenv("GPTCTL_REFERENCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "reference")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no reference vectors at %s (set GPTCTL_REFERENCE_DIR): %v", dir, err)
	}
	return dir
}

func TestReferenceVectors(t *testing.T) {
	dir := referenceDir(t)
	cases, _ := filepath.Glob(filepath.Join(dir, "*", "expected.safetensors"))
	if len(cases) == 0 {
		t.Skipf("no case folders under %s", dir)
	}
	for _, c := range cases {
		c := filepath.Dir(c)
		t.Run(filepath.Base(c), func(t *testing.T) { checkReferenceCase(t, c) })
	}
}

// referenceCase is one case folder loaded: the model with its LM loss, the
// batch already in the input nodes, and what PyTorch computed.
type referenceCase struct {
	p    *graph.Params
	m    *graph.Model
	loss *G.Node
	want *data.SafeTensors
}

func loadReferenceCase(t *testing.T, dir string) referenceCase {
	cfg, err := ReadHFConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dropout = 0
	p, err := graph.NewParams(cfg, kernels.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadWeights(p, filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	batch := mustRead(t, filepath.Join(dir, "batch.safetensors"))
	inputs, targets := batch.Tensors["inputs"], batch.Tensors["targets"]
	m, err := graph.New(p, inputs.Shape[0], inputs.Shape[1], &kernels.Mode{}, kernels.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	loss, tgt, err := m.LMLoss()
	if err != nil {
		t.Fatal(err)
	}
	copyInt32(t, graph.Int32Data(m.Idx), inputs)
	copyInt32(t, graph.Int32Data(tgt), targets)
	return referenceCase{p: p, m: m, loss: loss, want: mustRead(t, filepath.Join(dir, "expected.safetensors"))}
}

func checkReferenceCase(t *testing.T, dir string) {
	rc := loadReferenceCase(t, dir)
	p, m, loss, want := rc.p, rc.m, rc.loss, rc.want
	tr, err := m.Differentiate(loss, m.Logits)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Step()
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "logits", tr.Value(m.Logits), floats(t, want, "logits"), 1e-4, 0)
	checkClose(t, "loss", []float32{got}, floats(t, want, "loss"), 1e-4, 0)

	grads := make([][]float32, len(p.List))
	for i, w := range p.List {
		grads[i] = tr.Grad(i)
		checkClose(t, "grad."+w.Name, grads[i], floats(t, want, "grad."+w.Name), 1e-5, 1e-3)
	}
	checkClose(t, "grad_norm", []float32{float32(GradNorm(grads))}, floats(t, want, "grad_norm"), 1e-5, 1e-3)

	opt := NewAdamW(p, 0.9, 0.999, 1e-8, 0.1)
	opt.Update(p, grads, 1e-3)
	for _, w := range p.List {
		checkClose(t, "step1."+w.Name, w.Data, floats(t, want, "step1."+w.Name), 1e-5, 1e-3)
	}
}

func mustRead(t *testing.T, path string) *data.SafeTensors {
	st, err := data.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func floats(t *testing.T, st *data.SafeTensors, name string) []float32 {
	ts, ok := st.Tensors[name]
	if !ok {
		t.Fatalf("expected tensor %q is missing", name)
	}
	f, err := ts.Float32()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func copyInt32(t *testing.T, dst []int32, src data.Tensor) {
	v, err := src.Int64()
	if err != nil || len(v) != len(dst) {
		t.Fatalf("batch tensor %s: %v (len %d, want %d)", src.Name, err, len(v), len(dst))
	}
	for i, x := range v {
		dst[i] = int32(x)
	}
}

// checkClose asserts |got-want| <= abs, or <= rel*|want| when rel > 0, and
// logs the largest difference.
func checkClose(t *testing.T, name string, got, want []float32, abs, rel float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", name, len(got), len(want))
		return
	}
	maxDiff, bad := 0.0, 0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		maxDiff = math.Max(maxDiff, d)
		if d > abs && (rel == 0 || d > rel*math.Abs(float64(want[i]))) {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values out of tolerance, maxdiff %.3g", name, bad, len(got), maxDiff)
	} else {
		t.Logf("%s: maxdiff %.3g", name, maxDiff)
	}
}
