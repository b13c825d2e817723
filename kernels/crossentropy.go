package kernels

// Softmax cross-entropy of logits (n, v) against int32 targets (n), the mean
// over rows whose target is not negative; or of the first v columns of
// logits (n, w), whose columns v..w pad the rows (a vocabulary padded for
// aligned products) and get zero gradient. The forward op keeps the softmax
// probabilities for its gradient op.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type crossEntropyOp struct {
	base
	n, v   int       // rows, classes
	w      int       // row width: v, or more for padded rows
	probs  []float32 // (n, w) softmax: SetScratch's, or allocated at the first CPU pass
	noGrad bool      // probs holds a row a block, not kept (SetScratch, forward only)
	count  int       // rows that counted in the last forward pass
	lim    *RowLimit // nil: every row
}

// CrossEntropy returns the mean softmax cross-entropy (a scalar); rows whose
// target is negative are ignored.
func CrossEntropy(logits, targets *G.Node) (*G.Node, error) {
	return CrossEntropyClasses(logits, targets, logits.Shape()[1])
}

// CrossEntropyClasses is CrossEntropy over the first classes columns of
// logits, the rest padding.
func CrossEntropyClasses(logits, targets *G.Node, classes int) (*G.Node, error) {
	ls, ts := logits.Shape(), targets.Shape()
	if ls.Dims() != 2 || ts.TotalSize() != ls[0] || classes < 1 || classes > ls[1] {
		return nil, fmt.Errorf("cross-entropy: logits %v, targets %v and %d classes do not fit", ls, ts, classes)
	}
	op := &crossEntropyOp{n: ls[0], v: classes, w: ls[1]}
	op.base = newBase("cross_entropy", tensor.ScalarShape(), logits, targets)
	return G.ApplyOp(op, logits, targets)
}

// CrossEntropyRows is CrossEntropyClasses over the first lim.N rows of
// logits and targets, read at each run: the rows past it are not read, and
// the gradient leaves them as they are (a LinearTRows with the same limit
// reads none of them).
func CrossEntropyRows(logits, targets *G.Node, classes int, lim *RowLimit) (*G.Node, error) {
	y, err := CrossEntropyClasses(logits, targets, classes)
	if err == nil {
		y.Op().(*crossEntropyOp).lim = lim
	}
	return y, err
}

func (op *crossEntropyOp) Forward(y []float32, in []G.Value) error {
	targets := Int32s(in[1])
	for i, t := range targets {
		if int(t) >= op.v {
			return fmt.Errorf("cross-entropy: target %d at row %d is outside %d classes", t, i, op.v)
		}
	}
	n := op.lim.rows(op.n)
	var sum float64
	var count int
	if op.noGrad {
		sum, count = CrossEntropyLoss(op.probs, Floats(in[0]), targets[:n], n, op.v, op.w)
	} else {
		sum, count = CrossEntropyForward(op.softmax(), Floats(in[0]), targets[:n], n, op.v, op.w)
	}
	op.count = count
	y[0] = 0
	if count > 0 {
		y[0] = float32(sum / float64(count))
	}
	return nil
}

// ScratchFloats is the size of the probabilities the gradient op reads;
// forward only, of the rows CrossEntropyLoss works in.
func (op *crossEntropyOp) ScratchFloats(forwardOnly bool) int {
	if forwardOnly {
		return ceBlocks * op.v
	}
	return op.n * op.w
}

// ScratchOverInput marks the probabilities as free to take the logits'
// place (CrossEntropyForward reads a row's logits before it writes the
// row's probabilities).
func (op *crossEntropyOp) ScratchOverInput() {}

// SetScratch makes the probabilities live in buf, or, forward only, the
// rows CrossEntropyLoss works in.
func (op *crossEntropyOp) SetScratch(buf []float32, forwardOnly bool) {
	op.probs, op.noGrad = buf[:op.ScratchFloats(forwardOnly)], forwardOnly
}

func (op *crossEntropyOp) softmax() []float32 {
	if op.probs == nil {
		op.probs = make([]float32, op.ScratchFloats(false))
	}
	return op.probs
}

// Count is the number of rows the last forward pass averaged over.
func (op *crossEntropyOp) Count() int { return op.count }

func (op *crossEntropyOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *crossEntropyOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *crossEntropyOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op *crossEntropyOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	children := []*G.Node{inputs[1], grad}
	g := &crossEntropyGradOp{base: newBase("cross_entropy_grad", inputs[0].Shape(), children...), fwd: op}
	n, err := G.ApplyOp(g, children...)
	return G.Nodes{n, nil}, err
}

type crossEntropyGradOp struct {
	base
	noDiff
	fwd *crossEntropyOp
}

func (op *crossEntropyGradOp) Forward(dlogits []float32, in []G.Value) error {
	f := op.fwd
	if f.noGrad {
		return fmt.Errorf("cross-entropy: the forward pass kept no probabilities (its scratch was set forward only)")
	}
	scale := float32(0)
	if f.count > 0 {
		scale = scalarOf(in[1]) / float32(f.count)
	}
	CrossEntropyBackward(dlogits, f.softmax(), Int32s(in[0]), f.lim.rows(f.n), f.v, f.w, scale)
	return nil
}

// ForwardScratch is the probabilities the forward pass keeps, over which
// the gradient may be written (CrossEntropyBackward reads each before it
// writes it).
func (op *crossEntropyGradOp) ForwardScratch() []float32 {
	if op.fwd.noGrad {
		return nil
	}
	return op.fwd.probs
}

// ForwardOp is the loss whose probabilities it reads.
func (op *crossEntropyGradOp) ForwardOp() Scratcher { return op.fwd }

func (op *crossEntropyGradOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *crossEntropyGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}

// LossCount reports how many rows a cross-entropy node averaged over in its
// last forward pass (0 for other nodes).
func LossCount(n *G.Node) int {
	if op, ok := n.Op().(*crossEntropyOp); ok {
		return op.count
	}
	return 0
}
