//go:build cuda

package kernels

// ForwardCUDA of the ops of the language model (see ops_cuda.go): each
// calls the launchers in the order its Forward calls the CPU functions.

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

func (op *embeddingOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	return s.Device.EmbeddingForward(y, in[0], in[1], in[2], op.b, op.t, op.c, op.v)
}

// CheckInputs rejects token ids outside the vocabulary, as Forward does.
func (op *embeddingOp) CheckInputs(in []G.Value) error {
	if in[2] == nil {
		return nil
	}
	for i, id := range Int32s(in[2]) {
		if id < 0 || int(id) >= op.v {
			return fmt.Errorf("embedding: token id %d at position %d is outside the vocabulary of %d", id, i, op.v)
		}
	}
	return nil
}

func (op *embeddingGradOp) ForwardCUDA(s *CUDAState, out Buffer, in []Buffer) error {
	f := op.fwd
	dwte, dwpe := out.Slice(0, f.v*f.c), out.Slice(f.v*f.c, op.wpeRows*f.c) // all of dwpe is zeroed
	return s.Device.EmbeddingBackward(dwte, dwpe, in[0], in[1], f.b, f.t, f.c, f.v)
}

func (op *linearOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	var bias Buffer
	if op.bias {
		bias = in[2]
	}
	n := op.lim.rows(op.n)
	if n == 0 {
		return nil
	}
	return s.Device.LinearForward(y, in[0], in[1], bias, n, op.in, op.out, op.transW)
}

func (op *linearGradOp) ForwardCUDA(s *CUDAState, out Buffer, in []Buffer) error {
	f := op.fwd
	nx, nw := f.n*f.in, f.in*f.out
	var db Buffer
	if f.bias {
		db = out.Slice(nx+nw, f.out)
	}
	n := f.lim.rows(f.n)
	if n < f.n { // rows past the limit: no gradient
		if err := s.Device.Zero(out.Slice(n*f.in, (f.n-n)*f.in)); err != nil {
			return err
		}
	}
	if n == 0 {
		return s.Device.Zero(out.Slice(nx, out.Len()-nx))
	}
	return s.Device.LinearBackward(out.Slice(0, n*f.in), out.Slice(nx, nw), db, in[2], in[0], in[1], n, f.in, f.out, f.transW)
}

// lnSaved is a LayerNorm's per-row statistics.
type lnSaved struct{ mean, rstd Buffer }

func (op *layerNormOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	st, err := saved(s, op, func(t *lnSaved) (err error) {
		if t.mean, err = s.alloc(op.n); err == nil {
			t.rstd, err = s.alloc(op.n)
		}
		return err
	})
	if err != nil {
		return err
	}
	return s.Device.LayerNormForward(y, st.mean, st.rstd, in[0], in[1], in[2], op.n, op.c, op.eps)
}

func (op *layerNormGradOp) ForwardCUDA(s *CUDAState, out Buffer, in []Buffer) error {
	f := op.fwd
	st, err := savedBy[lnSaved](s, f)
	if err != nil {
		return err
	}
	nc := f.n * f.c
	return s.Device.LayerNormBackward(out.Slice(0, nc), out.Slice(nc, f.c), out.Slice(nc+f.c, f.c),
		in[2], in[0], in[1], st.mean, st.rstd, f.n, f.c)
}

func (op *geluOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	return s.Device.GELUForward(y, in[0], op.shape.TotalSize(), op.erf)
}

func (op *geluGradOp) ForwardCUDA(s *CUDAState, dx Buffer, in []Buffer) error {
	return s.Device.GELUBackward(dx, in[1], in[0], op.shape.TotalSize(), op.erf)
}

// attnSaved is what an attention keeps for its gradient: the probabilities
// and dropout multipliers, or, through flash.cu, each row's lse, a copy of
// the output and the dropout probability and mask seed it applied.
type attnSaved struct {
	att, drop Buffer
	active    bool // the last forward pass applied dropout
	flash     bool // the last forward pass ran flash.cu: lse, out, p and seed hold its state
	lse, out  Buffer
	p         float32 // flash.cu's dropout: 0 when inactive
	seed      uint64
}

// flash reports whether the attention runs through flash.cu: the device
// allows it for this head size. Its dropout masks are those of the batched
// path and the CPU, recomputed from the same seed.
func (op *attentionOp) flash(s *CUDAState) bool {
	return s.Device.FlashAttention(op.c / op.nHead)
}

func (op *attentionOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	st, err := saved(s, op, func(*attnSaved) error { return nil })
	if err != nil {
		return err
	}
	st.active = op.mode.Training && op.p > 0
	if st.flash = op.flash(s); st.flash {
		if st.lse.IsNil() {
			if st.lse, err = s.alloc(op.b * op.nHead * op.t); err != nil {
				return err
			}
			if st.out, err = s.alloc(op.b * op.t * op.c); err != nil {
				return err
			}
		}
		st.p = 0
		if st.active { // one Uint64 per training step, as the CPU op draws
			st.p, st.seed = op.p, op.rng.Uint64()
		}
		return s.Device.FlashAttentionForward(y, st.out, st.lse, in[0], op.b, op.t, op.c, op.nHead, st.p, st.seed)
	}
	if st.att.IsNil() {
		if st.att, err = s.alloc(op.ScratchFloats(false)); err != nil {
			return err
		}
	}
	var drop Buffer
	if st.active {
		if st.drop.IsNil() {
			if st.drop, err = s.alloc(op.ScratchFloats(false)); err != nil {
				return err
			}
		}
		if err := s.dropoutMask(st.drop, op.p, op.rng); err != nil {
			return err
		}
		drop = st.drop
	}
	return s.Device.AttentionForward(y, st.att, in[0], op.b, op.t, op.c, op.nHead, drop)
}

// FlashAttentions counts the attention ops that have run on s, and those
// of them whose last forward pass went through flash.cu.
func (s *CUDAState) FlashAttentions() (flash, all int) {
	for _, v := range s.saved {
		if a, ok := v.(*attnSaved); ok {
			all++
			if a.flash {
				flash++
			}
		}
	}
	return flash, all
}

func (op *attentionGradOp) ForwardCUDA(s *CUDAState, dqkv Buffer, in []Buffer) error {
	f := op.fwd
	st, err := savedBy[attnSaved](s, f)
	if err != nil {
		return err
	}
	if st.flash {
		return s.Device.FlashAttentionBackward(dqkv, in[1], in[0], st.out, st.lse, f.b, f.t, f.c, f.nHead, st.p, st.seed)
	}
	var drop Buffer
	if st.active {
		drop = st.drop
	}
	return s.Device.AttentionBackward(dqkv, in[1], in[0], st.att, f.b, f.t, f.c, f.nHead, drop)
}

func (op *addOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	return s.Device.Add(y, in[0], in[1], op.shape.TotalSize())
}

// dropSaved is a dropout's mask.
type dropSaved struct {
	mask   Buffer
	active bool // the last forward pass applied mask
}

func (op *dropoutOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	st, err := saved(s, op, func(*dropSaved) error { return nil })
	if err != nil {
		return err
	}
	n := op.shape.TotalSize()
	st.active = op.mode.Training && op.p > 0
	if !st.active {
		return copyInto(s.Device, y, in[0], n)
	}
	if st.mask.IsNil() {
		if st.mask, err = s.alloc(n); err != nil {
			return err
		}
	}
	if err := s.dropoutMask(st.mask, op.p, op.rng); err != nil {
		return err
	}
	return s.Device.Mul(y, in[0], st.mask, n)
}

func (op *dropoutGradOp) ForwardCUDA(s *CUDAState, dx Buffer, in []Buffer) error {
	st, err := savedBy[dropSaved](s, op.fwd)
	if err != nil {
		return err
	}
	n := op.shape.TotalSize()
	if !st.active {
		return copyInto(s.Device, dx, in[0], n)
	}
	return s.Device.Mul(dx, in[0], st.mask, n)
}

// ceSaved is a cross-entropy's softmax probabilities, per-row losses and
// [mean, count].
type ceSaved struct {
	lossStats
	probs, losses Buffer
}

func (op *crossEntropyOp) ForwardCUDA(s *CUDAState, y Buffer, in []Buffer) error {
	st, err := saved(s, op, func(t *ceSaved) (err error) {
		if t.probs, err = s.alloc(op.n * op.w); err != nil {
			return err
		}
		if t.losses, err = s.alloc(op.n); err != nil {
			return err
		}
		t.stats, err = s.alloc(2)
		return err
	})
	if err != nil {
		return err
	}
	if err := s.Device.CrossEntropyForward(st.probs, st.losses, st.stats, in[0], in[1], op.lim.rows(op.n), op.v, op.w); err != nil {
		return err
	}
	return copyInto(s.Device, y, st.stats, 1)
}

// CheckInputs rejects targets at or over the number of classes, as Forward
// does (a negative target is an ignored row).
func (op *crossEntropyOp) CheckInputs(in []G.Value) error {
	if in[1] == nil {
		return nil
	}
	for i, t := range Int32s(in[1]) {
		if int(t) >= op.v {
			return fmt.Errorf("cross-entropy: target %d at row %d is outside %d classes", t, i, op.v)
		}
	}
	return nil
}

func (op *crossEntropyGradOp) ForwardCUDA(s *CUDAState, dlogits Buffer, in []Buffer) error {
	f := op.fwd
	st, err := savedBy[ceSaved](s, f)
	if err != nil {
		return err
	}
	return s.Device.CrossEntropyBackward(dlogits, st.probs, in[0], in[1], st.stats, f.lim.rows(f.n), f.v, f.w)
}
