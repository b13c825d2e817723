package kernels

// Reshape gives a tensor a new shape of the same size (the multiple-choice
// scores (B*N, 1) become logits (B, N) for a softmax over the options). It
// copies; its gradient is the reshape back.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type reshapeOp struct{ base }

// Reshape returns x with the given shape.
func Reshape(x *G.Node, shape ...int) (*G.Node, error) {
	if s := tensor.Shape(shape); s.TotalSize() != x.Shape().TotalSize() {
		return nil, fmt.Errorf("reshape: %v does not fit %v", x.Shape(), s)
	}
	op := &reshapeOp{newBase("reshape", tensor.Shape(shape), x)}
	return G.ApplyOp(op, x)
}

func (op *reshapeOp) Forward(y []float32, in []G.Value) error {
	copy(y, Floats(in[0]))
	return nil
}

func (op *reshapeOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *reshapeOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *reshapeOp) DiffWRT(int) []bool { return []bool{true} }

func (op *reshapeOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	n, err := Reshape(grad, inputs[0].Shape()...)
	return G.Nodes{n}, err
}
