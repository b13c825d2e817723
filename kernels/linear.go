package kernels

// Linear: y = x @ W + b with W in the Conv1D layout (in, out) of GPT
// checkpoints, or y = x @ W^T (+ b) with W stored (out, in) as the tied LM head
// uses the token embedding. Its backward is one packed op (dx | dW | db).

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearOp computes (n, out) from x (n, in), w and an optional bias (out).
type linearOp struct {
	base
	n, in, out int
	transW     bool      // w is (out, in)
	bias       bool      //
	lim        *RowLimit // nil: every row
}

// RowLimit is a number of leading rows that ops built with it compute, set
// before each run: the rows past it are padding. An op leaves them as they
// are in its output, and those that read such output take the same limit;
// a linear gradient's dx is zero there. The LM head of a finetune, whose
// rows with a next token are gathered first, computes only those.
type RowLimit struct{ N int }

// rows is how many of n rows an op with limit l computes.
func (l *RowLimit) rows(n int) int {
	if l == nil {
		return n
	}
	return min(max(l.N, 0), n)
}

// Linear returns x @ w + b for x (n, in), w (in, out), b (out); b may be nil.
func Linear(x, w, b *G.Node) (*G.Node, error) { return linear(x, w, b, false) }

// LinearT returns x @ w^T + b for x (n, in) and w (out, in); b may be nil.
func LinearT(x, w, b *G.Node) (*G.Node, error) { return linear(x, w, b, true) }

// LinearTRows is LinearT without a bias over the first lim.N rows of x,
// read at each run; the output's other rows are left as they are.
func LinearTRows(x, w *G.Node, lim *RowLimit) (*G.Node, error) {
	y, err := linear(x, w, nil, true)
	if err == nil {
		y.Op().(*linearOp).lim = lim
	}
	return y, err
}

func linear(x, w, b *G.Node, transW bool) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 2 || ws.Dims() != 2 {
		return nil, fmt.Errorf("linear: want 2-D x and w, have %v and %v", xs, ws)
	}
	in, out := ws[0], ws[1]
	if transW {
		in, out = ws[1], ws[0]
	}
	if xs[1] != in {
		return nil, fmt.Errorf("linear: x %v does not fit weight %v", xs, ws)
	}
	children := []*G.Node{x, w}
	if b != nil {
		if bs := b.Shape(); bs.TotalSize() != out {
			return nil, fmt.Errorf("linear: bias %v does not fit %d outputs", bs, out)
		}
		children = append(children, b)
	}
	op := &linearOp{n: xs[0], in: in, out: out, transW: transW, bias: b != nil}
	op.base = newBase("linear", tensor.Shape{xs[0], out}, children...)
	return G.ApplyOp(op, children...)
}

func (op *linearOp) Forward(y []float32, in []G.Value) error {
	var b []float32
	if op.bias {
		b = Floats(in[2])
	}
	n := op.lim.rows(op.n)
	LinearForward(y[:n*op.out], Floats(in[0])[:n*op.in], Floats(in[1]), b, n, op.in, op.out, op.transW)
	return nil
}

// LinearForward writes y (n, out) = x (n, in) @ W + b, W being (in, out),
// or (out, in) used transposed when transW; b (out) may be nil.
func LinearForward(y, x, w, b []float32, n, in, out int, transW bool) {
	ldw := out
	if transW {
		ldw = in
	}
	beta := float32(0)
	if b != nil {
		for r := 0; r < n; r++ {
			copy(y[r*out:(r+1)*out], b)
		}
		beta = 1
	}
	Sgemm(false, transW, n, out, in, 1, x, in, w, ldw, beta, y, out)
}

func (op *linearOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *linearOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}

func (op *linearOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

func (op *linearOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	g := &linearGradOp{fwd: op}
	shapes := []tensor.Shape{inputs[0].Shape(), inputs[1].Shape()}
	if op.bias {
		shapes = append(shapes, inputs[2].Shape())
	}
	children := []*G.Node{inputs[0], inputs[1], grad}
	g.base = newBase("linear_grad", packedSize(shapes...), children...)
	want := make([]bool, len(shapes))
	for i := range want {
		want[i] = true
	}
	return unpack(g, children, shapes, want)
}

// linearGradOp packs dx (n, in), dW (w's shape) and db (out) into one buffer.
type linearGradOp struct {
	base
	noDiff
	fwd *linearOp
}

func (op *linearGradOp) Forward(out []float32, in []G.Value) error {
	f := op.fwd
	n := f.lim.rows(f.n)
	x, w, dy := Floats(in[0]), Floats(in[1]), Floats(in[2])
	dx := out[:f.n*f.in]
	dw := out[f.n*f.in : f.n*f.in+f.in*f.out]
	clear(dx[n*f.in:]) // rows past the limit
	if n == 0 {
		clear(out[f.n*f.in:])
		return nil
	}
	if f.transW { // w (out, in): dx = dy @ w, dw = dy^T @ x
		Sgemm(false, false, n, f.in, f.out, 1, dy, f.out, w, f.in, 0, dx, f.in)
		Sgemm(true, false, f.out, f.in, n, 1, dy, f.out, x, f.in, 0, dw, f.in)
	} else { // w (in, out): dx = dy @ w^T, dw = x^T @ dy
		Sgemm(false, true, n, f.in, f.out, 1, dy, f.out, w, f.out, 0, dx, f.in)
		Sgemm(true, false, f.in, f.out, n, 1, x, f.in, dy, f.out, 0, dw, f.out)
	}
	if f.bias {
		sumRows(out[f.n*f.in+f.in*f.out:], dy, n, f.out)
	}
	return nil
}

func (op *linearGradOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *linearGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}

// sumRows sets db[j] = sum over rows r of dy[r, j]: the sums of blocks of
// 256 rows, added in order (as the GPU twin sums them), so that the
// rounding error grows with 256 + n/256 terms, not n (B*T = 16,384 rows
// at GPT-2's batch 16), tiles of 256 columns in parallel.
func sumRows(db, dy []float32, n, c int) {
	const rows, cols = 256, 256
	tiles := (c + cols - 1) / cols
	tile := func(t int) {
		lo, hi := t*cols, min((t+1)*cols, c)
		out := db[lo:hi]
		clear(out)
		var part [cols]float32
		for r0 := 0; r0 < n; r0 += rows {
			p := part[:hi-lo]
			clear(p)
			for r := r0; r < min(r0+rows, n); r++ {
				axpy32(1, dy[r*c+lo:r*c+hi], p)
			}
			for j, v := range p {
				out[j] += v
			}
		}
	}
	if n*c < 1<<16 { // a handoff would cost more than the sum
		for t := range tiles {
			tile(t)
		}
		return
	}
	parallelFor(tiles, tile)
}
