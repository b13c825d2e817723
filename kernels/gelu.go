package kernels

// GELU in its tanh form, elementwise, with its gradient op.

import (
	G "gorgonia.org/gorgonia"
)

type geluOp struct{ base }

// GELU applies 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))) elementwise.
func GELU(x *G.Node) (*G.Node, error) {
	op := &geluOp{newBase("gelu", x.Shape(), x)}
	return G.ApplyOp(op, x)
}

func (op *geluOp) Forward(y []float32, in []G.Value) error {
	GELUForward(y, Floats(in[0]))
	return nil
}

func (op *geluOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *geluOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *geluOp) DiffWRT(int) []bool { return []bool{true} }

func (op *geluOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	g := &geluGradOp{base: newBase("gelu_grad", inputs[0].Shape(), inputs[0], grad)}
	n, err := G.ApplyOp(g, inputs[0], grad)
	return G.Nodes{n}, err
}

type geluGradOp struct {
	base
	noDiff
}

func (op *geluGradOp) Forward(dx []float32, in []G.Value) error {
	GELUBackward(dx, Floats(in[1]), Floats(in[0]))
	return nil
}

func (op *geluGradOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *geluGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
