package train

// The reference test, in the style of llm.c's test_gpt2: every case folder
// under GPTCTL_REFERENCE_DIR (default ../shared/reference) holds a small
// model, one batch and what PyTorch computed from them. gptctl must
// reproduce the logits, the loss, every gradient and every weight after one
// AdamW step.

import (
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"

	"gptctl/data"
	"gptctl/graph"
)

// referenceCases returns the case folders to check, by name: the ones under
// GPTCTL_REFERENCE_DIR (default ../shared/reference; a relative path is
// from the repository root), when it exists, and
// those of testdata/reference, which scripts/reference-case.py made with
// other shapes (one head, eight heads, three layers, seq shorter than ctx,
// layer_norm_epsilon 1e-6, Hugging Face names with mask buffers), so the
// test runs on a fresh clone too.
func referenceCases(t *testing.T) map[string]string {
	dir, asked := os.LookupEnv("GPTCTL_REFERENCE_DIR")
	if dir == "" {
		dir, asked = filepath.Join("..", "shared", "reference"), false
	}
	if !filepath.IsAbs(dir) { // from the repository root, where make and go test ./... start
		dir = filepath.Join("..", dir)
	}
	cases := map[string]string{}
	if _, err := os.Stat(dir); err != nil {
		if asked { // a typo must not pass on the bundled cases alone
			t.Fatalf("GPTCTL_REFERENCE_DIR=%s: %v", dir, err)
		}
		t.Logf("no reference vectors at %s (set GPTCTL_REFERENCE_DIR): %v; checking testdata/reference only", dir, err)
	} else {
		found, _ := filepath.Glob(filepath.Join(dir, "*", "expected.safetensors"))
		if len(found) == 0 {
			t.Fatalf("reference vectors %s: no case folders (*/expected.safetensors) in it; GPTCTL_REFERENCE_DIR names the directory that holds the case folders", dir)
		}
		for _, c := range found {
			cases[filepath.Base(filepath.Dir(c))] = filepath.Dir(c)
		}
	}
	generated, _ := filepath.Glob(filepath.Join("testdata", "reference", "*", "expected.safetensors"))
	for _, c := range generated {
		cases["generated-"+filepath.Base(filepath.Dir(c))] = filepath.Dir(c)
	}
	if len(cases) == 0 {
		t.Fatal("no reference case folders, not even testdata/reference")
	}
	return cases
}

func TestReferenceVectors(t *testing.T) {
	cases := referenceCases(t)
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		t.Run(name, func(t *testing.T) { checkReferenceCase(t, cases[name]) })
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
	p, err := graph.NewParams(cfg, graph.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadWeights(p, filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	batch := mustRead(t, filepath.Join(dir, "batch.safetensors"))
	inputs, targets := batch.Tensors["inputs"], batch.Tensors["targets"]
	m, err := graph.New(p, inputs.Shape[0], inputs.Shape[1], graph.NewRNG(1))
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
	checkClose(t, "grad_norm", []float32{float32(graph.GradNorm(grads))}, floats(t, want, "grad_norm"), 1e-5, 1e-3)

	// The AdamW step, first alone: from PyTorch's own gradients it must give
	// PyTorch's weights, every one of them.
	const lr, eps = 1e-3, 1e-8
	start := make([][]float32, len(p.List))
	refGrads := make([][]float32, len(p.List))
	for i, w := range p.List {
		start[i] = append([]float32(nil), w.Data...)
		refGrads[i] = floats(t, want, "grad."+w.Name)
	}
	NewAdamW(p, 0.9, 0.999, eps, 0.1).Update(p, refGrads, lr)
	for i, w := range p.List {
		checkClose(t, "step1 from PyTorch's gradients: "+w.Name, w.Data, floats(t, want, "step1."+w.Name), 1e-5, 1e-3)
		// The tolerance above is the size of the step itself (lr 1e-3 on a
		// weight near 1): the step, the weight's change, must match too,
		// to 1e-3 of it and a few float32 roundings of the weight, so that a
		// step that skips a weight or its decay fails.
		checkStep(t, "step1 from PyTorch's gradients (the change): "+w.Name, w.Data, start[i], floats(t, want, "step1."+w.Name))
	}
	// Then the whole step, from our gradients. A first Adam step moves a
	// weight by lr*g/(|g|+eps), which turns a gradient difference dg into a
	// step difference of up to lr*eps*|dg|/(|g|+eps)^2: up to 1e5*|dg| where
	// a gradient is float32 noise around an exact zero (the key biases: a
	// shift of every score in a row leaves the softmax unchanged). That much
	// is allowed on top of the tolerance; elsewhere it is negligible.
	for i, w := range p.List {
		copy(w.Data, start[i])
	}
	NewAdamW(p, 0.9, 0.999, eps, 0.1).Update(p, grads, lr)
	for i, w := range p.List {
		slack := adamStep1Slack(grads[i], refGrads[i], lr, eps)
		checkCloseSlack(t, "step1."+w.Name, w.Data, floats(t, want, "step1."+w.Name), 1e-5, 1e-3, slack)
	}
}

// checkStep compares the change of each weight from start, got-start,
// with want-start: within 1e-3 of it and four float32 roundings of the
// weight.
func checkStep(t *testing.T, name string, got, start, want []float32) {
	t.Helper()
	if len(got) != len(want) || len(start) != len(want) {
		t.Errorf("%s: %d values from %d, want %d", name, len(got), len(start), len(want))
		return
	}
	bad, worst := 0, 0
	for j := range got {
		step := float64(want[j]) - float64(start[j])
		ulp := float64(math.Nextafter32(float32(math.Abs(float64(want[j]))), math.MaxFloat32)) - math.Abs(float64(want[j]))
		if d := math.Abs(float64(got[j]) - float64(want[j])); d > 1e-3*math.Abs(step)+4*ulp {
			if bad == 0 || d > math.Abs(float64(got[worst])-float64(want[worst])) {
				worst = j
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d weights moved otherwise, e.g. [%d] from %g by %g, want by %g", name, bad, len(got), worst,
			start[worst], float64(got[worst])-float64(start[worst]), float64(want[worst])-float64(start[worst]))
	}
}

// adamStep1Slack bounds, per weight, how far apart two first AdamW steps
// land when taken from gradients got and want: the step lr*g/(|g|+eps)
// changes by at most lr*eps/(m+eps)^2 per unit of g, m the smallest |g|
// between the two (0 when their signs differ).
func adamStep1Slack(got, want []float32, lr, eps float64) []float64 {
	slack := make([]float64, len(got))
	for j := range got {
		a, b := float64(got[j]), float64(want[j])
		m := math.Min(math.Abs(a), math.Abs(b))
		if a*b < 0 {
			m = 0
		}
		slack[j] = lr * eps * math.Abs(a-b) / ((m + eps) * (m + eps))
	}
	return slack
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
	checkCloseSlack(t, name, got, want, abs, rel, nil)
}

// checkCloseSlack is checkClose with slack[i] more allowed for value i.
func checkCloseSlack(t *testing.T, name string, got, want []float32, abs, rel float64, slack []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", name, len(got), len(want))
		return
	}
	maxDiff, bad := 0.0, 0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		maxDiff = math.Max(maxDiff, d)
		if slack != nil {
			d = math.Max(0, d-slack[i])
		}
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
