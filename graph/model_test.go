package graph

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"gptctl/kernels"
)

func tinyModel(t *testing.T, arch string, B, T int, dropout float32, opts ...Option) (*Model, *Trainer, []int32) {
	t.Helper()
	cfg := Config{Arch: arch, VocabSize: 29, NCtx: 12, NEmbd: 24, NHead: 3, NLayer: 2, LNEps: 1e-5, Dropout: dropout}
	p, err := NewParams(cfg, kernels.NewRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(p, B, T, kernels.NewRNG(6), opts...)
	if err != nil {
		t.Fatal(err)
	}
	loss, tg, err := m.LMLoss()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := m.Differentiate(loss, m.Logits)
	if err != nil {
		t.Fatal(err)
	}
	in, tgt := Int32Data(m.Idx), Int32Data(tg)
	for i := range in {
		in[i] = int32((i*7 + 3) % cfg.VocabSize)
		tgt[i] = int32((i*5 + 1) % cfg.VocabSize)
	}
	return m, tr, in
}

// A padded LM head (PadVocab) computes the same model: the same loss, the
// same logits in the first V of its Vp columns and zeros after them, the
// same gradient of every weight (the embedding's V rows), to float32
// rounding (a product with more rows may be blocked, and so summed,
// differently by the BLAS).
func TestPadVocab(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		m, tr, _ := tinyModel(t, arch, 2, 10, 0)
		pm, ptr, _ := tinyModel(t, arch, 2, 10, 0, PadVocab(16))
		if got := pm.Logits.Shape(); got[1] != 32 || pm.Vocab != 29 || m.Vocab != 29 {
			t.Fatalf("%s: padded logits %v, vocab %d; want 32 columns, 29 classes", arch, got, pm.Vocab)
		}
		l, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		pl, err := ptr.Step()
		if err != nil {
			t.Fatal(err)
		}
		near := func(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-6+1e-5*math.Abs(float64(b)) }
		if !near(pl, l) {
			t.Errorf("%s: loss %v, padded %v", arch, l, pl)
		}
		logits, plogits := tr.Value(m.Logits), ptr.Value(pm.Logits)
		for r := range 2 * 10 {
			for j := range 32 {
				if j < 29 && !near(plogits[r*32+j], logits[r*29+j]) || j >= 29 && plogits[r*32+j] != 0 {
					t.Fatalf("%s: padded logits row %d column %d: %v", arch, r, j, plogits[r*32+j])
				}
			}
		}
		for i, w := range m.Params.List {
			g, pg := tr.Grad(i), ptr.Grad(i)
			for k := range g {
				if !near(pg[k], g[k]) {
					t.Fatalf("%s: grad %s[%d] %v, padded %v", arch, w.Name, k, g[k], pg[k])
				}
			}
		}
	}
}

// At initialisation every token is about equally likely: loss ≈ ln V.
func TestInitialLossIsLogV(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		_, tr, _ := tinyModel(t, arch, 2, 10, 0)
		l, err := tr.Eval()
		if err != nil {
			t.Fatal(err)
		}
		if want := math.Log(29); math.Abs(float64(l)-want) > 0.1 {
			t.Errorf("%s: initial loss %.4f, want about ln(29) = %.4f", arch, l, want)
		}
	}
}

// Changing token t+1 must leave the logits at positions <= t unchanged.
func TestCausality(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		m, tr, in := tinyModel(t, arch, 1, 10, 0)
		if _, err := tr.Eval(); err != nil {
			t.Fatal(err)
		}
		before := append([]float32(nil), tr.Value(m.Logits)...)
		const pos = 6
		in[pos] = (in[pos] + 1) % 29
		if _, err := tr.Eval(); err != nil {
			t.Fatal(err)
		}
		after := tr.Value(m.Logits)
		V := 29
		for i := 0; i < 10*V; i++ {
			changed := before[i] != after[i]
			if i/V < pos && changed {
				t.Fatalf("%s: logit %d at position %d changed when token %d did", arch, i%V, i/V, pos)
			}
			if i/V == pos && !changed && i%V == 0 {
				t.Errorf("%s: logits at position %d did not change with its own token", arch, pos)
			}
		}
	}
}

// A model must be able to memorise one batch.
func TestOverfitOneBatch(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		m, tr, _ := tinyModel(t, arch, 2, 10, 0.1)
		p := m.Params
		mo := make([][]float32, len(p.List))
		vo := make([][]float32, len(p.List))
		for i, w := range p.List {
			mo[i], vo[i] = make([]float32, len(w.Data)), make([]float32, len(w.Data))
		}
		var first, last float32
		for step := 1; step <= 150; step++ {
			l, err := tr.Step()
			if err != nil {
				t.Fatal(err)
			}
			if step == 1 {
				first = l
			}
			last = l
			for i, w := range p.List {
				kernels.AdamW(w.Data, tr.Grad(i), mo[i], vo[i], 1e-2, 0.9, 0.99, 1e-8, 0, step)
			}
		}
		eval, err := tr.Eval()
		if err != nil {
			t.Fatal(err)
		}
		if eval > 0.1 {
			t.Errorf("%s: after 150 steps on one batch the loss is %.4f (from %.4f, last train %.4f), want < 0.1", arch, eval, first, last)
		}
	}
}

// Params.Load has its fill write the weight in place, then refuses NaN and
// infinities, naming the weight and element; a wrong shape or an unknown
// name is refused before fill runs.
func TestParamsLoad(t *testing.T) {
	p, err := NewParams(Config{Arch: "gpt1", VocabSize: 5, NCtx: 4, NEmbd: 4, NHead: 2, NLayer: 1, LNEps: 1e-5}, kernels.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	w := p.List[len(p.List)-1]
	fill := func(v ...float32) func([]float32) error {
		return func(dst []float32) error { copy(dst, v); return nil }
	}
	if err := p.Load(w.Name, []int{4}, fill(1, 2, 3, 4)); err != nil || fmt.Sprint(w.Data) != "[1 2 3 4]" {
		t.Errorf("load: %v, %v", err, w.Data)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		if err := p.Load(w.Name, []int{4}, fill(1, bad, 3, 4)); err == nil || !strings.Contains(err.Error(), w.Name) || !strings.Contains(err.Error(), "element 1") {
			t.Errorf("load of %v: %v", bad, err)
		}
	}
	failed := errors.New("a file error")
	if err := p.Load(w.Name, []int{4}, func([]float32) error { return failed }); err != failed {
		t.Errorf("fill's error: %v", err)
	}
	called := false
	if err := p.Load(w.Name, []int{2, 2}, func([]float32) error { called = true; return nil }); err == nil || !strings.Contains(err.Error(), "shape [2 2]") || called {
		t.Errorf("wrong shape: %v (fill called: %v)", err, called)
	}
	if err := p.Load("h.9.mlp", []int{4}, fill()); err == nil || !strings.Contains(err.Error(), `unexpected weight "h.9.mlp"`) {
		t.Errorf("unknown weight: %v", err)
	}
}

// A weight of the wrong shape (a bug: loaders check shapes first) fails New
// with an error that names the layer, and no half-built model.
func TestNewNamesTheLayer(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		cfg := Config{Arch: arch, VocabSize: 29, NCtx: 12, NEmbd: 24, NHead: 3, NLayer: 2, LNEps: 1e-5}
		p, err := NewParams(cfg, kernels.NewRNG(5))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range p.List {
			if strings.HasSuffix(w.Name, "h.1.mlp.c_proj.weight") {
				w.Shape, w.Data = []int{24, 24}, w.Data[:24*24]
			}
		}
		m, err := New(p, 2, 12, kernels.NewRNG(6))
		if m != nil || err == nil || !strings.Contains(err.Error(), "at h.1:") {
			t.Errorf("%s, h.1.mlp.c_proj.weight 24x24: model %v, %v; want no model and an error naming h.1", arch, m != nil, err)
		}
	}
}

// A ForwardOnly model computes what a model built for training does, bit
// for bit (its loss and logits, run after run on new inputs), in a
// fraction of the memory: its activations share the arena by lifetime and
// its ops one scratch buffer. It refuses to be differentiated.
func TestForwardOnly(t *testing.T) {
	for _, arch := range []string{"gpt1", "gpt2"} {
		cfg := Config{Arch: arch, VocabSize: 29, NCtx: 12, NEmbd: 24, NHead: 3, NLayer: 6, LNEps: 1e-5, Dropout: 0.1}
		p, err := NewParams(cfg, kernels.NewRNG(5))
		if err != nil {
			t.Fatal(err)
		}
		type model struct {
			m       *Model
			loss    *G.Node
			targets []int32
			prog    *Program
		}
		build := func(opts ...Option) model {
			m, err := New(p, 3, 10, kernels.NewRNG(6), opts...)
			if err != nil {
				t.Fatal(err)
			}
			loss, tg, err := m.LMLoss()
			if err != nil {
				t.Fatal(err)
			}
			md := model{m: m, loss: loss, targets: Int32Data(tg)}
			if md.prog, err = m.Forward(loss, m.Logits); err != nil {
				t.Fatal(err)
			}
			return md
		}
		full, fwd := build(), build(ForwardOnly())
		for round := range 3 {
			var outs [2][][]float32
			for i, md := range []model{full, fwd} {
				in := Int32Data(md.m.Idx)
				for j := range in {
					in[j] = int32((j*7 + 3*round + 1) % cfg.VocabSize)
					md.targets[j] = int32((j*5 + round) % cfg.VocabSize)
				}
				if err := md.m.Run(md.prog); err != nil {
					t.Fatal(err)
				}
				for _, n := range []*G.Node{md.loss, md.m.Logits} {
					outs[i] = append(outs[i], slices.Clone(kernels.Floats(md.m.m.Value(n))))
				}
			}
			for k, what := range []string{"loss", "logits"} {
				if !slices.Equal(outs[0][k], outs[1][k]) {
					t.Fatalf("%s, round %d: the forward-only model's %s differ", arch, round, what)
				}
			}
		}
		own, arena := full.m.m.Floats()
		fOwn, fArena := fwd.m.m.Floats()
		t.Logf("%s: forward-only %d+%d floats, built for training %d+%d", arch, fOwn, fArena, own, arena)
		if 3*(fOwn+fArena) > own+arena {
			t.Errorf("%s: the forward-only model holds %d+%d floats, the one built for training %d+%d: want a third or less", arch, fOwn, fArena, own, arena)
		}
		if _, err := fwd.m.Differentiate(fwd.loss); err == nil || !strings.Contains(err.Error(), "ForwardOnly") {
			t.Errorf("%s: differentiating a forward-only model: %v", arch, err)
		}
	}
}
