package kernels_test

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gptctl/graph"
	"gptctl/kernels"
)

// In training mode the mask changes every pass, so no finite difference
// applies: check instead that about p of the outputs are dropped, the rest
// scaled by 1/(1-p), and that the gradient is the same mask times the
// upstream gradient.
func TestDropoutTraining(t *testing.T) {
	const n, p = 4000, 0.3
	g := G.NewGraph()
	xs := make([]float32, n)
	ws := make([]float32, n)
	for i := range xs {
		xs[i], ws[i] = 1+float32(i%7), float32(i%5)-2
	}
	x := G.NewTensor(g, tensor.Float32, 1, G.WithShape(n), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(xs))))
	w := G.NewTensor(g, tensor.Float32, 1, G.WithShape(n), G.WithName("w"), G.WithValue(tensor.New(tensor.WithShape(n), tensor.WithBacking(ws))))
	mode := &kernels.Mode{Training: true}
	y := G.Must(kernels.Dropout(x, p, mode, kernels.NewRNG(3)))
	loss := G.Must(kernels.WeightedSum(y, w))
	grads, err := G.Grad(loss, x)
	if err != nil {
		t.Fatal(err)
	}
	m := graph.NewMachine(g)
	prog, err := m.Compile(loss, grads[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	yv, dx := kernels.Floats(m.Value(y)), kernels.Floats(m.Value(grads[0]))
	dropped := 0
	for i := range yv {
		scale := yv[i] / xs[i]
		switch {
		case scale == 0:
			dropped++
		case math.Abs(float64(scale)-1/(1-p)) > 1e-5:
			t.Fatalf("element %d scaled by %v, want 0 or %v", i, scale, 1/(1-p))
		}
		if math.Abs(float64(dx[i]-scale*ws[i])) > 1e-5 {
			t.Fatalf("element %d: gradient %v, want mask %v times %v", i, dx[i], scale, ws[i])
		}
	}
	if frac := float64(dropped) / n; math.Abs(frac-p) > 0.03 {
		t.Errorf("dropped %.3f of the elements, want about %v", frac, p)
	}
	mode.Training = false
	if err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	for i, v := range kernels.Floats(m.Value(y)) {
		if v != xs[i] {
			t.Fatalf("evaluation mode changed element %d: %v -> %v", i, xs[i], v)
		}
	}
}
