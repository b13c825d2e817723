package kernels

// GatherRows picks rows of a matrix by index, summing groups of them: the
// finetuning heads read the final hidden state at each <e> token with it,
// and add the states of the two orders of a similarity pair. Its gradient op
// scatter-adds back into a zeroed (n, c).

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type gatherRowsOp struct {
	base
	n, c, k, g int
}

// GatherRows returns (k, c) for x (n, c) and int32 rows (k) or (k, g): row i
// of the output is the sum of x[rows[i, j]] over j. A negative index adds
// nothing (a padded slot).
func GatherRows(x, rows *G.Node) (*G.Node, error) {
	xs, rs := x.Shape(), rows.Shape()
	if xs.Dims() != 2 || rs.Dims() < 1 || rs.Dims() > 2 || rows.Dtype() != tensor.Int32 {
		return nil, fmt.Errorf("gather rows: want x (n, c) and int32 rows (k) or (k, g), have %v and %v %v", xs, rows.Dtype(), rs)
	}
	g := 1
	if rs.Dims() == 2 {
		g = rs[1]
	}
	op := &gatherRowsOp{n: xs[0], c: xs[1], k: rs[0], g: g}
	op.base = newBase("gather_rows", tensor.Shape{rs[0], xs[1]}, x, rows)
	return G.ApplyOp(op, x, rows)
}

func (op *gatherRowsOp) Forward(y []float32, in []G.Value) error {
	rows := Int32s(in[1])
	for i, r := range rows {
		if int(r) >= op.n {
			return fmt.Errorf("gather rows: index %d at %d is outside %d rows", r, i, op.n)
		}
	}
	GatherRowsForward(y, Floats(in[0]), rows, op.g, op.c)
	return nil
}

// GatherRowsForward sets y[i] = sum over j < g of x[rows[i*g+j]] for rows
// of width c; negative indexes are skipped.
func GatherRowsForward(y, x []float32, rows []int32, g, c int) {
	clear(y)
	for i, r := range rows {
		if r < 0 {
			continue
		}
		axpy32(1, x[int(r)*c:(int(r)+1)*c], y[(i/g)*c:(i/g+1)*c])
	}
}

// GatherRowsBackward overwrites dx with zeros and adds dy[i] into
// dx[rows[i*g+j]] for every j; indexes may repeat.
func GatherRowsBackward(dx, dy []float32, rows []int32, g, c int) {
	clear(dx)
	for i, r := range rows {
		if r < 0 {
			continue
		}
		axpy32(1, dy[(i/g)*c:(i/g+1)*c], dx[int(r)*c:(int(r)+1)*c])
	}
}

func (op *gatherRowsOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *gatherRowsOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *gatherRowsOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op *gatherRowsOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	children := []*G.Node{grad, inputs[1]}
	g := &gatherRowsGradOp{base: newBase("gather_rows_grad", inputs[0].Shape(), children...), fwd: op}
	n, err := G.ApplyOp(g, children...)
	return G.Nodes{n, nil}, err
}

type gatherRowsGradOp struct {
	base
	noDiff
	fwd *gatherRowsOp
}

func (op *gatherRowsGradOp) Forward(dx []float32, in []G.Value) error {
	GatherRowsBackward(dx, Floats(in[0]), Int32s(in[1]), op.fwd.g, op.fwd.c)
	return nil
}

func (op *gatherRowsGradOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *gatherRowsGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
