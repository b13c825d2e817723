package kernels

// Add of two same-shaped tensors (the residual connection); the gradient
// flows unchanged to both inputs.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

type addOp struct{ base }

// Add returns a + b for tensors of one shape.
func Add(a, b *G.Node) (*G.Node, error) {
	if !a.Shape().Eq(b.Shape()) {
		return nil, fmt.Errorf("add: shapes %v and %v differ", a.Shape(), b.Shape())
	}
	op := &addOp{newBase("add", a.Shape(), a, b)}
	return G.ApplyOp(op, a, b)
}

func (op *addOp) Forward(y []float32, in []G.Value) error {
	AddInto(y, Floats(in[0]), Floats(in[1]))
	return nil
}

// AddInto sets y = a + b elementwise.
func AddInto(y, a, b []float32) {
	b = b[:len(a)]
	y = y[:len(a)]
	if nb := blocks(len(a), 1<<16); nb > 1 {
		parallelRanges(len(a), nb, func(lo, hi int) { addInto(y[lo:hi], a[lo:hi], b[lo:hi]) })
		return
	}
	addInto(y, a, b)
}

// addInto is AddInto on one block: in place (y is a or b) an axpy, else a
// copy and an axpy; a+1*b rounds as a+b, so the sums are unchanged.
func addInto(y, a, b []float32) {
	if len(y) == 0 {
		return
	}
	switch {
	case &y[0] == &a[0]:
		axpy32(1, b, y)
	case &y[0] == &b[0]:
		axpy32(1, a, y)
	default:
		copy(y, a)
		axpy32(1, b, y)
	}
}

func (op *addOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *addOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *addOp) DiffWRT(int) []bool { return []bool{true, true} }
func (op *addOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{grad, grad}, nil
}
