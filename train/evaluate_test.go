package train

import (
	"math"
	"path/filepath"
	"testing"

	G "gorgonia.org/gorgonia"

	"gptctl/data"
	"gptctl/graph"
	"gptctl/kernels"
)

// EvalLM with a stride scores every token once; with stride S, token i
// (predicting i+1) sees the tokens from c(i) on, where c(i) = 0 in the
// first window and otherwise the start of the first window k*S that reaches
// it. Checked against one forward per token with exactly that context, for
// strides 1 (full context everywhere), 3 and n_ctx (= no stride).
func TestEvalLMStride(t *testing.T) {
	dir := t.TempDir()
	tok := data.NewCharTokenizer(synthChars)
	cfg := graph.Config{Arch: "gpt1", VocabSize: tok.VocabSize(), NCtx: 8, NEmbd: 16, NHead: 2, NLayer: 2, LNEps: 1e-5}
	p, err := graph.NewParams(cfg, kernels.NewRNG(9))
	if err != nil {
		t.Fatal(err)
	}
	rng := kernels.NewRNG(10)
	for _, w := range p.List {
		for i := range w.Data {
			w.Data[i] += float32(rng.NormFloat64() * 0.3)
		}
	}
	if err := writeModelDir(dir, p, tok); err != nil {
		t.Fatal(err)
	}
	text := "the cat sat on the mat, and it was glad."
	file := writeFile(t, filepath.Join(t.TempDir(), "t.txt"), text)
	ids := tok.Encode(text)
	n, T := len(ids)-1, cfg.NCtx

	m, loss, targets, prog := oneRowLM(t, p, T)
	nll := func(c, i int) float64 { // -log p(ids[i+1] | ids[c..i])
		in, tg := graph.Int32Data(m.Idx), graph.Int32Data(targets)
		clear(in)
		for j := range tg {
			tg[j] = -1
		}
		for j := c; j <= i; j++ {
			in[j-c] = int32(ids[j])
		}
		tg[i-c] = int32(ids[i+1])
		if err := m.Run(prog); err != nil {
			t.Fatal(err)
		}
		return float64(kernels.Floats(m.Machine().Value(loss))[0])
	}
	for _, S := range []int{1, 3, T} {
		var want float64
		for i := range n {
			c := 0
			if i >= T {
				c = ((i-T)/S + 1) * S
			}
			want += nll(c, i)
		}
		want /= float64(n)
		for _, batch := range []int{1, 4} {
			got, err := EvalLM(dir, file, InferOptions{Batch: batch, Stride: S})
			if err != nil {
				t.Fatal(err)
			}
			if got.Tokens != n || got.Stride != S || math.Abs(got.Loss-want) > 1e-5 {
				t.Errorf("stride %d, batch %d: %+v; want loss %.6f over %d tokens", S, batch, got, want, n)
			}
		}
	}
	same, err := EvalLM(dir, file, InferOptions{Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if same.Stride != T {
		t.Errorf("no stride: %+v, want stride %d", same, T)
	}
}

// oneRowLM builds a one-sequence model of T tokens over p with its LM loss
// (targets -1 where not scored) and the program computing it.
func oneRowLM(t *testing.T, p *graph.Params, T int) (m *graph.Model, loss, targets *G.Node, prog *graph.Program) {
	t.Helper()
	m, err := graph.New(p, 1, T, &kernels.Mode{}, kernels.NewRNG(0))
	if err != nil {
		t.Fatal(err)
	}
	if loss, targets, err = m.LMLoss(); err != nil {
		t.Fatal(err)
	}
	if prog, err = m.Forward(loss); err != nil {
		t.Fatal(err)
	}
	return m, loss, targets, prog
}
