package kernels_test

// Finite-difference gradient checks of every fused op as Gorgonia sees it:
// the op is applied in a graph, G.Grad builds the backward graph from the
// ops' SymDiff, graph.Machine runs it, and each analytic gradient is compared
// with central differences of the forward pass.

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gptctl/graph"
	"gptctl/kernels"
)

type gcase struct {
	name   string
	inputs [][]int // shapes of the float inputs
	build  func(g *G.ExprGraph, in []*G.Node) (*G.Node, error)
}

func TestGradCheck(t *testing.T) {
	mode := &kernels.Mode{}
	cases := []gcase{
		{"linear", [][]int{{5, 7}, {7, 3}, {3}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return kernels.Linear(in[0], in[1], in[2])
		}},
		{"linear_t", [][]int{{5, 7}, {4, 7}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return kernels.LinearT(in[0], in[1], nil)
		}},
		{"layernorm", [][]int{{4, 9}, {9}, {9}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return kernels.LayerNorm(in[0], in[1], in[2], 1e-5)
		}},
		{"gelu", [][]int{{3, 8}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) { return kernels.GELU(in[0]) }},
		{"gelu_erf", [][]int{{3, 8}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) { return kernels.GELUErf(in[0]) }},
		{"add", [][]int{{3, 4}, {3, 4}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) { return kernels.Add(in[0], in[1]) }},
		{"attention", [][]int{{2 * 5, 3 * 6}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return kernels.Attention(in[0], 2, 5, 3, 0, mode, kernels.NewRNG(1))
		}},
		{"embedding", [][]int{{11, 4}, {6, 4}}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			idx := intInput(g, "idx", []int32{3, 3, 0, 10, 7, 1, 2, 3}, 2, 4)
			return kernels.Embedding(in[0], in[1], idx)
		}},
		{"cross_entropy", [][]int{{5, 6}}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			tg := intInput(g, "targets", []int32{1, -1, 5, 0, 2}, 5)
			return kernels.CrossEntropy(in[0], tg)
		}},
		{"pad_rows", [][]int{{3, 4}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) { return kernels.PadRows(in[0], 5) }},
		{"slice_rows", [][]int{{5, 3}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) { return kernels.SliceRows(in[0], 2) }},
		// The padded LM head: logits over a padded embedding, a softmax over the real classes.
		{"cross_entropy_padded_head", [][]int{{5, 4}, {6, 4}}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			w, err := kernels.PadRows(in[1], 8)
			if err != nil {
				return nil, err
			}
			logits, err := kernels.LinearT(in[0], w, nil)
			if err != nil {
				return nil, err
			}
			return kernels.CrossEntropyClasses(logits, intInput(g, "targets", []int32{1, -1, 5, 0, 2}, 5), 6)
		}},
		// The finetune's LM head: the rows with a next token gathered first,
		// the product and the softmax over those rows alone.
		{"lm_head_rows", [][]int{{6, 4}, {7, 4}}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			lim := &kernels.RowLimit{N: 3}
			h, err := kernels.GatherRows(in[0], intInput(g, "rows", []int32{4, 0, 2, -1, -1, -1}, 6))
			if err != nil {
				return nil, err
			}
			logits, err := kernels.LinearTRows(h, in[1], lim)
			if err != nil {
				return nil, err
			}
			return kernels.CrossEntropyRows(logits, intInput(g, "targets", []int32{1, 6, 0, -1, -1, -1}, 6), 7, lim)
		}},
		{"linear_t_rows", [][]int{{5, 7}, {4, 7}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return kernels.LinearTRows(in[0], in[1], &kernels.RowLimit{N: 3})
		}},
		{"dropout_eval", [][]int{{4, 4}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return kernels.Dropout(in[0], 0.5, mode, kernels.NewRNG(2))
		}},
		{"weighted_sum", [][]int{{3, 3}, {3, 3}}, func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return kernels.WeightedSum(in[0], in[1])
		}},
		{"gather_rows", [][]int{{6, 4}}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return kernels.GatherRows(in[0], intInput(g, "rows", []int32{5, 0, 5, 2}, 4))
		}},
		{"gather_rows_pairs", [][]int{{6, 4}}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			return kernels.GatherRows(in[0], intInput(g, "rows", []int32{1, 4, 3, 3, 0, -1}, 3, 2))
		}},
		{"mse", [][]int{{5, 1}}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			nan := float32(math.NaN())
			return kernels.MSE(in[0], floatInput(g, "target", []float32{0.5, nan, -1, 2, 0}, 5))
		}},
		{"add_scaled", [][]int{{2, 3}, {3, 2}}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			a, err := kernels.WeightedSum(in[0], floatInput(g, "wa", []float32{1, -2, 3, 0.5, 1, -1}, 2, 3))
			if err != nil {
				return nil, err
			}
			b, err := kernels.WeightedSum(in[1], floatInput(g, "wb", []float32{-1, 2, 0.25, 1, 2, 1}, 3, 2))
			if err != nil {
				return nil, err
			}
			return kernels.AddScaled(a, b, 0.3)
		}},
		{"reshape", [][]int{{6, 1}}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
			scores, err := kernels.Reshape(in[0], 2, 3)
			if err != nil {
				return nil, err
			}
			return kernels.CrossEntropy(scores, intInput(g, "answer", []int32{2, 0}, 2))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { gradCheck(t, c, nil) })
	}
	// In training, with dropout: each pass draws the same mask, from the
	// same seed, so the differences see the mask the backward must apply.
	for _, c := range []struct {
		name   string
		inputs [][]int
		build  func(in *G.Node, mode *kernels.Mode, rng *kernels.RNG) (*G.Node, error)
	}{
		{"attention_dropout", [][]int{{2 * 5, 3 * 6}}, func(in *G.Node, mode *kernels.Mode, rng *kernels.RNG) (*G.Node, error) {
			return kernels.Attention(in, 2, 5, 3, 0.3, mode, rng)
		}},
		{"dropout_train", [][]int{{4, 4}}, func(in *G.Node, mode *kernels.Mode, rng *kernels.RNG) (*G.Node, error) {
			return kernels.Dropout(in, 0.3, mode, rng)
		}},
	} {
		rng := kernels.NewRNG(1)
		start, err := rng.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		mode := &kernels.Mode{Training: true}
		build := func(_ *G.ExprGraph, in []*G.Node) (*G.Node, error) { return c.build(in[0], mode, rng) }
		t.Run(c.name, func(t *testing.T) {
			gradCheck(t, gcase{c.name, c.inputs, build}, func() {
				if err := rng.UnmarshalBinary(start); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func intInput(g *G.ExprGraph, name string, v []int32, shape ...int) *G.Node {
	return G.NewTensor(g, tensor.Int32, len(shape), G.WithShape(shape...), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))))
}

func floatInput(g *G.ExprGraph, name string, v []float32, shape ...int) *G.Node {
	return G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name),
		G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))))
}

// gradCheck checks c's gradients; reset, when not nil, runs before each
// pass of the graph.
func gradCheck(t *testing.T, c gcase, reset func()) {
	rng := rand.New(rand.NewPCG(7, 7))
	g := G.NewGraph()
	var in []*G.Node
	var data [][]float32
	for i, s := range c.inputs {
		d := make([]float32, tensor.Shape(s).TotalSize())
		for j := range d {
			d[j] = float32(rng.NormFloat64())
		}
		data = append(data, d)
		n := G.NewTensor(g, tensor.Float32, len(s), G.WithShape(s...), G.WithName(string(rune('a'+i))),
			G.WithValue(tensor.New(tensor.WithShape(s...), tensor.WithBacking(d))))
		in = append(in, n)
	}
	out, err := c.build(g, in)
	if err != nil {
		t.Fatal(err)
	}
	loss := out
	if !out.IsScalar() { // read the output out through fixed random weights
		r := make([]float32, out.Shape().TotalSize())
		for j := range r {
			r[j] = float32(rng.NormFloat64())
		}
		w := G.NewTensor(g, tensor.Float32, out.Dims(), G.WithShape(out.Shape()...), G.WithName("r"),
			G.WithValue(tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(r))))
		if loss, err = kernels.WeightedSum(out, w); err != nil {
			t.Fatal(err)
		}
	}
	grads, err := G.Grad(loss, in...)
	if err != nil {
		t.Fatal(err)
	}
	m := graph.NewMachine(g)
	step, err := m.Compile(append([]*G.Node{loss}, grads...)...)
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := m.Compile(loss)
	if err != nil {
		t.Fatal(err)
	}
	if reset == nil {
		reset = func() {}
	}
	reset()
	if err := step.Run(); err != nil {
		t.Fatal(err)
	}
	f := func() float64 {
		reset()
		if err := fwd.Run(); err != nil {
			t.Fatal(err)
		}
		return float64(kernels.Floats(m.Value(loss))[0])
	}
	const h = 1e-2
	for i, d := range data {
		analytic := append([]float32(nil), kernels.Floats(m.Value(grads[i]))...)
		maxDiff := 0.0
		for j := range d {
			orig := d[j]
			d[j] = orig + h
			up := f()
			d[j] = orig - h
			down := f()
			d[j] = orig
			num := (up - down) / (2 * h)
			diff := math.Abs(num - float64(analytic[j]))
			maxDiff = math.Max(maxDiff, diff)
			if diff > 1e-3+1e-2*math.Abs(num) {
				t.Errorf("input %d element %d: analytic %.5f, numeric %.5f", i, j, analytic[j], num)
			}
		}
		t.Logf("input %d: maxdiff %.2e over %d elements", i, maxDiff, len(d))
	}
}
