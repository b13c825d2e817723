package kernels

// Causal multi-head self-attention on a packed qkv (n, 3C) → (n, C), with
// dropout on the attention probabilities. The forward op keeps the
// probabilities, and the seed of its dropout mask, for its gradient op.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type attentionOp struct {
	base
	b, t, c, nHead int
	p              float32
	mode           *Mode
	rng            *RNG
	att            []float32 // (b, nHead, t, t) probabilities: SetScratch's, or allocated at the first CPU pass
	seed           uint64    // the last training forward pass's dropout mask (see AttentionForward)
	active         bool      // the last forward pass applied dropout
}

// Attention computes causal self-attention of qkv (b*t, 3c) with nHead heads.
func Attention(qkv *G.Node, b, t, nHead int, p float32, mode *Mode, rng *RNG) (*G.Node, error) {
	s := qkv.Shape()
	if s.Dims() != 2 || s[0] != b*t || s[1]%3 != 0 || (s[1]/3)%nHead != 0 {
		return nil, fmt.Errorf("attention: qkv %v does not fit b=%d t=%d heads=%d", s, b, t, nHead)
	}
	c := s[1] / 3
	op := &attentionOp{b: b, t: t, c: c, nHead: nHead, p: p, mode: mode, rng: rng}
	op.base = newBase("attention", tensor.Shape{b * t, c}, qkv)
	return G.ApplyOp(op, qkv)
}

func (op *attentionOp) Forward(y []float32, in []G.Value) error {
	op.active = op.mode.Training && op.p > 0
	var p float32
	if op.active { // one Uint64 a training step, as the device draws it
		p, op.seed = op.p, op.rng.Uint64()
	}
	AttentionForward(y, op.probs(), Floats(in[0]), op.b, op.t, op.c, op.nHead, p, op.seed)
	return nil
}

// ScratchFloats is the size of the probabilities, which the forward pass
// writes whether the gradient op reads them or not.
func (op *attentionOp) ScratchFloats(bool) int { return op.b * op.nHead * op.t * op.t }

// SetScratch makes the probabilities live in buf.
func (op *attentionOp) SetScratch(buf []float32, _ bool) { op.att = buf[:op.ScratchFloats(false)] }

func (op *attentionOp) probs() []float32 {
	if op.att == nil {
		op.att = make([]float32, op.ScratchFloats(false))
	}
	return op.att
}

func (op *attentionOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *attentionOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
func (op *attentionOp) DiffWRT(int) []bool { return []bool{true} }

func (op *attentionOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	g := &attentionGradOp{base: newBase("attention_grad", inputs[0].Shape(), inputs[0], grad), fwd: op}
	n, err := G.ApplyOp(g, inputs[0], grad)
	return G.Nodes{n}, err
}

type attentionGradOp struct {
	base
	noDiff
	fwd *attentionOp
}

func (op *attentionGradOp) Forward(dqkv []float32, in []G.Value) error {
	f := op.fwd
	var p float32
	if f.active {
		p = f.p
	}
	AttentionBackward(dqkv, Floats(in[1]), Floats(in[0]), f.probs(), f.b, f.t, f.c, f.nHead, p, f.seed)
	return nil
}

func (op *attentionGradOp) Do(in ...G.Value) (G.Value, error) { return doKernel(op, op.shape, in) }
func (op *attentionGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return preallocKernel(op, p, in)
}
