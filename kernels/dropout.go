package kernels

// Dropout with inverted scaling. A training forward pass draws one seed
// from the model's RNG; element i's multiplier is hashKeep(p, seed, i),
// computed again by the gradient op, so no mask is stored, the work splits
// over threads, and the device (dropout.cu) draws the same masks from the
// same RNG state.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

type dropoutOp struct {
	base
	p      float32
	mode   *Mode
	rng    *RNG
	seed   uint64 // the last training forward pass's mask
	active bool   // the last forward pass applied the mask
}

// Dropout zeroes each element of x with probability p while mode.Training
// and scales the rest by 1/(1-p); it is the identity in evaluation.
func Dropout(x *G.Node, p float32, mode *Mode, rng *RNG) (*G.Node, error) {
	if p < 0 || p >= 1 {
		return nil, fmt.Errorf("dropout: p %v is not in [0, 1)", p)
	}
	op := &dropoutOp{p: p, mode: mode, rng: rng}
	op.base = newBase("dropout", x.Shape(), x)
	return G.ApplyOp(op, x)
}

func (op *dropoutOp) Forward(y []float32, in []G.Value) error {
	x := Floats(in[0])
	op.active = op.mode.Training && op.p > 0
	if !op.active {
		copy(y, x)
		return nil
	}
	op.seed = op.rng.Uint64()
	dropoutApply(y, x, op.p, op.seed)
	return nil
}

func (op *dropoutOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *dropoutOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *dropoutOp) DiffWRT(int) []bool { return []bool{true} }

func (op *dropoutOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	g := &dropoutGradOp{base: newBase("dropout_grad", op.shape, grad), fwd: op}
	n, err := G.ApplyOp(g, grad)
	return G.Nodes{n}, err
}

type dropoutGradOp struct {
	base
	noDiff
	fwd *dropoutOp
}

func (op *dropoutGradOp) Forward(dx []float32, in []G.Value) error {
	dy := Floats(in[0])
	if !op.fwd.active {
		copy(dx, dy)
		return nil
	}
	dropoutApply(dx, dy, op.fwd.p, op.fwd.seed)
	return nil
}

func (op *dropoutGradOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *dropoutGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
