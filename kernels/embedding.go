package kernels

// Token plus position embedding: x[b, t] = wte[idx[b, t]] + wpe[t]. Its
// gradient op scatter-adds into packed (dwte | dwpe).

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type embeddingOp struct {
	base
	b, t, c, v int
}

// Embedding looks up token ids idx (b, t) int32 in wte (v, c) and adds the
// position embeddings wpe (≥t, c); the output is (b*t, c).
func Embedding(wte, wpe, idx *G.Node) (*G.Node, error) {
	ws, ps, is := wte.Shape(), wpe.Shape(), idx.Shape()
	if ws.Dims() != 2 || ps.Dims() != 2 || is.Dims() != 2 || ws[1] != ps[1] || is[1] > ps[0] {
		return nil, fmt.Errorf("embedding: wte %v, wpe %v, idx %v do not fit", ws, ps, is)
	}
	op := &embeddingOp{b: is[0], t: is[1], c: ws[1], v: ws[0]}
	op.base = newBase("embedding", tensor.Shape{is[0] * is[1], ws[1]}, wte, wpe, idx)
	return G.ApplyOp(op, wte, wpe, idx)
}

func (op *embeddingOp) Forward(y []float32, in []G.Value) error {
	idx := Int32s(in[2])
	for i, id := range idx {
		if id < 0 || int(id) >= op.v {
			return fmt.Errorf("embedding: token id %d at position %d is outside the vocabulary of %d", id, i, op.v)
		}
	}
	EmbeddingForward(y, Floats(in[0]), Floats(in[1]), idx, op.b, op.t, op.c)
	return nil
}

func (op *embeddingOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *embeddingOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *embeddingOp) DiffWRT(int) []bool { return []bool{true, true, false} }

func (op *embeddingOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	shapes := []tensor.Shape{inputs[0].Shape(), inputs[1].Shape(), inputs[2].Shape()}
	g := &embeddingGradOp{fwd: op, wpeRows: shapes[1][0]}
	children := []*G.Node{grad, inputs[2]}
	g.base = newBase("embedding_grad", packedSize(shapes[0], shapes[1]), children...)
	return unpack(g, children, shapes, []bool{true, true, false})
}

// embeddingGradOp packs dwte (v, c) and dwpe (rows, c).
type embeddingGradOp struct {
	base
	noDiff
	fwd     *embeddingOp
	wpeRows int
}

func (op *embeddingGradOp) Forward(out []float32, in []G.Value) error {
	f := op.fwd
	dwte := out[:f.v*f.c]
	dwpe := out[f.v*f.c:]
	clear(dwpe[f.t*f.c:]) // positions beyond t get no gradient
	EmbeddingBackward(dwte, dwpe[:f.t*f.c], Floats(in[0]), Int32s(in[1]), f.b, f.t, f.c)
	return nil
}

func (op *embeddingGradOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *embeddingGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
