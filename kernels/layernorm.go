package kernels

// LayerNorm over the last axis of x (n, c) with weight and bias (c). The
// forward op keeps mean and 1/std per row for its backward op.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type layerNormOp struct {
	base
	n, c       int
	eps        float32
	mean, rstd []float32 // written by Forward, read by the gradient op
}

// LayerNorm normalises each row of x (n, c) and applies w and b (c).
func LayerNorm(x, w, b *G.Node, eps float32) (*G.Node, error) {
	xs := x.Shape()
	if xs.Dims() != 2 || w.Shape().TotalSize() != xs[1] || b.Shape().TotalSize() != xs[1] {
		return nil, fmt.Errorf("layernorm: x %v, w %v, b %v do not fit", xs, w.Shape(), b.Shape())
	}
	op := &layerNormOp{n: xs[0], c: xs[1], eps: eps, mean: make([]float32, xs[0]), rstd: make([]float32, xs[0])}
	op.base = newBase("layernorm", xs, x, w, b)
	return G.ApplyOp(op, x, w, b)
}

func (op *layerNormOp) Forward(y []float32, in []G.Value) error {
	LayerNormForward(y, op.mean, op.rstd, Floats(in[0]), Floats(in[1]), Floats(in[2]), op.n, op.c, op.eps)
	return nil
}

func (op *layerNormOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *layerNormOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *layerNormOp) DiffWRT(n int) []bool { return []bool{true, true, true} }

func (op *layerNormOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	g := &layerNormGradOp{fwd: op}
	shapes := []tensor.Shape{inputs[0].Shape(), inputs[1].Shape(), inputs[2].Shape()}
	children := []*G.Node{inputs[0], inputs[1], grad}
	g.base = newBase("layernorm_grad", packedSize(shapes...), children...)
	return unpack(g, children, shapes, []bool{true, true, true})
}

// layerNormGradOp packs dx (n, c), dw (c) and db (c).
type layerNormGradOp struct {
	base
	noDiff
	fwd *layerNormOp
}

func (op *layerNormGradOp) Forward(out []float32, in []G.Value) error {
	f := op.fwd
	nc := f.n * f.c
	LayerNormBackward(out[:nc], out[nc:nc+f.c], out[nc+f.c:], Floats(in[2]), Floats(in[0]), Floats(in[1]),
		f.mean, f.rstd, f.n, f.c)
	return nil
}

func (op *layerNormGradOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *layerNormGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
