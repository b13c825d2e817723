package kernels

// PadRows appends zero rows to a matrix: the tied LM head multiplies by the
// token embedding padded to a row count that keeps the logits' rows aligned
// for tensor-core products (a vocabulary of 50,257 becomes 50,304). Its
// gradient is the first rows of the incoming one. SliceRows is the
// gradient op, also usable on its own.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type padRowsOp struct {
	base
	r, c int // the input's rows and columns
}

// PadRows returns x (r, c) followed by rows-r rows of zeros: (rows, c).
func PadRows(x *G.Node, rows int) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 2 || rows < s[0] {
		return nil, fmt.Errorf("pad rows: %v cannot be padded to %d rows", s, rows)
	}
	op := &padRowsOp{newBase("pad_rows", tensor.Shape{rows, s[1]}, x), s[0], s[1]}
	return G.ApplyOp(op, x)
}

func (op *padRowsOp) Forward(y []float32, in []G.Value) error {
	n := copy(y, Floats(in[0])[:op.r*op.c])
	clear(y[n:])
	return nil
}

func (op *padRowsOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *padRowsOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *padRowsOp) DiffWRT(int) []bool { return []bool{true} }

func (op *padRowsOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	n, err := SliceRows(grad, op.r)
	return G.Nodes{n}, err
}

type sliceRowsOp struct {
	base
	r, c int // the output's rows and columns
}

// SliceRows returns the first rows rows of x (R, c): (rows, c).
func SliceRows(x *G.Node, rows int) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 2 || rows < 1 || rows > s[0] {
		return nil, fmt.Errorf("slice rows: %v has no first %d rows", s, rows)
	}
	op := &sliceRowsOp{newBase("slice_rows", tensor.Shape{rows, s[1]}, x), rows, s[1]}
	return G.ApplyOp(op, x)
}

func (op *sliceRowsOp) Forward(y []float32, in []G.Value) error {
	copy(y, Floats(in[0])[:op.r*op.c])
	return nil
}

func (op *sliceRowsOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *sliceRowsOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *sliceRowsOp) DiffWRT(int) []bool { return []bool{true} }

func (op *sliceRowsOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	n, err := PadRows(grad, inputs[0].Shape()[0])
	return G.Nodes{n}, err
}
