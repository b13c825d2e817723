package kernels

// AddScaled combines two scalar losses, a + lambda*b: the finetuning
// objective L3 = L2 + lambda*L1. The gradients are g and lambda*g.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type addScaledOp struct {
	base
	lambda float32
}

// AddScaled returns a + lambda*b for scalars a and b.
func AddScaled(a, b *G.Node, lambda float32) (*G.Node, error) {
	if !a.IsScalar() || !b.IsScalar() {
		return nil, fmt.Errorf("add scaled: want two scalars, have %v and %v", a.Shape(), b.Shape())
	}
	op := &addScaledOp{base: newBase(fmt.Sprintf("add_scaled(%g)", lambda), tensor.ScalarShape(), a, b), lambda: lambda}
	return G.ApplyOp(op, a, b)
}

func (op *addScaledOp) Forward(y []float32, in []G.Value) error {
	y[0] = scalarOf(in[0]) + op.lambda*scalarOf(in[1])
	return nil
}

func (op *addScaledOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *addScaledOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *addScaledOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *addScaledOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	g := &scaleConstOp{base: newBase("scale_const", tensor.ScalarShape(), grad), s: op.lambda}
	n, err := G.ApplyOp(g, grad)
	return G.Nodes{grad, n}, err
}

// scaleConstOp is y = s*x for a constant s.
type scaleConstOp struct {
	base
	noDiff
	s float32
}

func (op *scaleConstOp) Forward(y []float32, in []G.Value) error {
	for i, v := range Floats(in[0]) {
		y[i] = op.s * v
	}
	return nil
}

func (op *scaleConstOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *scaleConstOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
