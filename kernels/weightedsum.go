package kernels

// WeightedSum: the scalar sum(x * w) of two same-shaped tensors. With w a
// constant it is a linear read-out (the gradient checks use it to turn any
// op's output into a scalar loss); its gradients are w*g and x*g.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type weightedSumOp struct{ base }

// WeightedSum returns sum(x * w).
func WeightedSum(x, w *G.Node) (*G.Node, error) {
	if x.Shape().TotalSize() != w.Shape().TotalSize() {
		return nil, fmt.Errorf("weighted sum: shapes %v and %v differ in size", x.Shape(), w.Shape())
	}
	op := &weightedSumOp{newBase("weighted_sum", tensor.ScalarShape(), x, w)}
	return G.ApplyOp(op, x, w)
}

func (op *weightedSumOp) Forward(y []float32, in []G.Value) error {
	x, w := Floats(in[0]), Floats(in[1])
	var s float64
	for i, v := range x {
		s += float64(v) * float64(w[i])
	}
	y[0] = float32(s)
	return nil
}

func (op *weightedSumOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *weightedSumOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *weightedSumOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *weightedSumOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 2)
	for i := range out {
		other := inputs[1-i]
		g := &scaleByOp{base: newBase("scale_by", inputs[i].Shape(), other, grad)}
		n, err := G.ApplyOp(g, other, grad)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// scaleByOp is y = v * s for a tensor v and a scalar s.
type scaleByOp struct {
	base
	noDiff
}

func (op *scaleByOp) Forward(y []float32, in []G.Value) error {
	v, s := Floats(in[0]), scalarOf(in[1])
	for i, x := range v {
		y[i] = x * s
	}
	return nil
}

func (op *scaleByOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *scaleByOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
