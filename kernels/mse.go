package kernels

// Mean squared error of predictions (n) or (n, 1) against float32 targets
// (n), the regression loss of the similarity head. Rows whose target is NaN
// are padding: they are left out of the mean and get no gradient, as
// negative targets are in CrossEntropy.

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type mseOp struct {
	base
	n     int
	count int // rows that counted in the last forward pass
}

// MSE returns mean((pred - target)^2) over the rows whose target is not NaN,
// a scalar; 0 when there are none.
func MSE(pred, target *G.Node) (*G.Node, error) {
	ps, ts := pred.Shape(), target.Shape()
	if ps.TotalSize() != ts.TotalSize() || ps.Dims() > 2 || ps.Dims() == 2 && ps[1] != 1 {
		return nil, fmt.Errorf("mse: predictions %v and targets %v do not fit (want (n) or (n, 1) and (n))", ps, ts)
	}
	op := &mseOp{n: ps.TotalSize()}
	op.base = newBase("mse", tensor.ScalarShape(), pred, target)
	return G.ApplyOp(op, pred, target)
}

func (op *mseOp) Forward(y []float32, in []G.Value) error {
	sum, count := MSEForward(Floats(in[0]), Floats(in[1]))
	op.count = count
	y[0] = 0
	if count > 0 {
		y[0] = float32(sum / float64(count))
	}
	return nil
}

// MSEForward returns the sum of (pred - target)^2 in float64 over rows whose
// target is not NaN, and the number of such rows.
func MSEForward(pred, target []float32) (sum float64, count int) {
	for i, t := range target {
		if math.IsNaN(float64(t)) {
			continue
		}
		d := float64(pred[i]) - float64(t)
		sum += d * d
		count++
	}
	return sum, count
}

// MSEBackward overwrites dpred with scale*2*(pred - target), 0 where the
// target is NaN.
func MSEBackward(dpred, pred, target []float32, scale float32) {
	for i, t := range target {
		if math.IsNaN(float64(t)) {
			dpred[i] = 0
			continue
		}
		dpred[i] = 2 * scale * (pred[i] - t)
	}
}

func (op *mseOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *mseOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *mseOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op *mseOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	children := []*G.Node{inputs[0], inputs[1], grad}
	g := &mseGradOp{base: newBase("mse_grad", inputs[0].Shape(), children...), fwd: op}
	n, err := G.ApplyOp(g, children...)
	return G.Nodes{n, nil}, err
}

type mseGradOp struct {
	base
	noDiff
	fwd *mseOp
}

func (op *mseGradOp) Forward(dpred []float32, in []G.Value) error {
	scale := float32(0)
	if op.fwd.count > 0 {
		scale = scalarOf(in[2]) / float32(op.fwd.count)
	}
	MSEBackward(dpred, Floats(in[0]), Floats(in[1]), scale)
	return nil
}

func (op *mseGradOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *mseGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
