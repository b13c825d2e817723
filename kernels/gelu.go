package kernels

// GELU, elementwise, with its gradient op: the tanh form (GPT-1, GPT-2) or
// the exact one, x*Phi(x) (GELUErf).

import (
	G "gorgonia.org/gorgonia"
)

type geluOp struct {
	base
	erf bool // x*Phi(x) instead of the tanh form
}

// GELU applies 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))) elementwise.
func GELU(x *G.Node) (*G.Node, error) {
	op := &geluOp{base: newBase("gelu", x.Shape(), x)}
	return G.ApplyOp(op, x)
}

// GELUErf applies the exact GELU, x*Phi(x) = 0.5x(1+erf(x/sqrt 2)), elementwise.
func GELUErf(x *G.Node) (*G.Node, error) {
	op := &geluOp{base: newBase("gelu_erf", x.Shape(), x), erf: true}
	return G.ApplyOp(op, x)
}

func (op *geluOp) Forward(y []float32, in []G.Value) error {
	if op.erf {
		GELUErfForward(y, Floats(in[0]))
	} else {
		GELUForward(y, Floats(in[0]))
	}
	return nil
}

func (op *geluOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *geluOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *geluOp) DiffWRT(int) []bool { return []bool{true} }

func (op *geluOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	g := &geluGradOp{base: newBase(op.name+"_grad", inputs[0].Shape(), inputs[0], grad), erf: op.erf}
	n, err := G.ApplyOp(g, inputs[0], grad)
	return G.Nodes{n}, err
}

type geluGradOp struct {
	base
	noDiff
	erf bool
}

func (op *geluGradOp) Forward(dx []float32, in []G.Value) error {
	if op.erf {
		GELUErfBackward(dx, Floats(in[1]), Floats(in[0]))
	} else {
		GELUBackward(dx, Floats(in[1]), Floats(in[0]))
	}
	return nil
}

func (op *geluGradOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *geluGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
