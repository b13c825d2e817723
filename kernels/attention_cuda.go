//go:build cuda

package kernels

import "github.com/chewxy/math32"

// Causal self-attention on the device: batched products and attention.cu's
// row kernels, in the order of AttentionForward and AttentionBackward. The
// products go through cuBLAS's strided batched GEMM when cuBLAS is loaded
// (tensor cores, TF32 when allowed; full t×t products, the softmax ignores
// and zeros what lies above the diagonal), else through gemm.cu's causal
// kernels (blockIdx.z = batch*nHead + head, tiles above the diagonal
// skipped).
// Head h of sequence bi reads columns h*hs.. of the Q, K and V parts of
// qkv's rows bi*t.. (stride 3c) and P's block (bi, h) of t×t.

// attnLayout returns the batch strides of qkv, att and the (b*t, c) output.
func attnLayout(b, t, c, nHead int) (qkv, att, out gemmBatch) {
	hs := c / nHead
	qkv = gemmBatch{count: b * nHead, nInner: nHead, aOuter: t * 3 * c, aInner: hs}
	att = gemmBatch{aOuter: nHead * t * t, aInner: t * t}
	out = gemmBatch{aOuter: t * c, aInner: hs}
	return
}

// batch combines the layouts of A, B and C into one gemmBatch.
func batch(count, nInner int, a, b, c gemmBatch) gemmBatch {
	return gemmBatch{count: count, nInner: nInner, aOuter: a.aOuter, aInner: a.aInner,
		bOuter: b.aOuter, bInner: b.aInner, cOuter: c.aOuter, cInner: c.aInner}
}

// AttentionForward writes out (b*t, c) and the probabilities att (b, nHead,
// t, t) from qkv (b*t, 3c); drop (same shape as att) is the zero Buffer or
// dropout multipliers applied to att before att@V.
func (d *Device) AttentionForward(out, att, qkv Buffer, b, t, c, nHead int, drop Buffer) error {
	hs, err := headSizeOf("cuda: attention", c, nHead)
	if err != nil {
		return err
	}
	if err := need("attention", want{"out", out, b * t * c}, want{"att", att, b * nHead * t * t},
		want{"qkv", qkv, b * t * 3 * c}); err != nil {
		return err
	}
	if err := needDrop("attention", drop, b*nHead*t*t); err != nil {
		return err
	}
	lq, la, lo := attnLayout(b, t, c, nHead)
	pairs := b * nHead
	scale := 1 / math32.Sqrt(float32(hs))
	q, k, v := qkv.Slice(0, qkv.n), qkv.Slice(c, qkv.n-c), qkv.Slice(2*c, qkv.n-2*c)
	if d.cublasAttention() {
		return d.attentionForwardCublas(out, att, q, k, v, b, t, c, nHead, drop)
	}
	// S = scale Q Kᵀ, lower tiles only.
	if err := d.gemmOwn(gemmLowerC, false, true, t, t, hs, scale, q, 3*c, Buffer{}, k, 3*c, 0, att, t,
		batch(pairs, nHead, lq, lq, la)); err != nil {
		return err
	}
	rows := b * nHead * t
	if err := d.launch("attn_softmax_f32", dim3{(rows + 7) / 8, 1, 1}, dim3{256, 1, 1}, 0, att, t, int64(rows)); err != nil {
		return err
	}
	// out = (P*drop) V, summing keys up to each row.
	return d.gemmOwn(gemmLowerA, false, false, t, hs, t, 1, att, t, drop, v, 3*c, 0, out, c,
		batch(pairs, nHead, la, lq, lo))
}

// AttentionBackward overwrites dqkv (b*t, 3c) given dout (b*t, c), the
// forward's qkv and att, and its drop (or the zero Buffer). dS takes a
// scratch buffer the size of att.
func (d *Device) AttentionBackward(dqkv, dout, qkv, att Buffer, b, t, c, nHead int, drop Buffer) error {
	hs, err := headSizeOf("cuda: attention backward", c, nHead)
	if err != nil {
		return err
	}
	if err := need("attention backward", want{"dqkv", dqkv, b * t * 3 * c}, want{"dout", dout, b * t * c},
		want{"qkv", qkv, b * t * 3 * c}, want{"att", att, b * nHead * t * t}); err != nil {
		return err
	}
	if err := needDrop("attention backward", drop, b*nHead*t*t); err != nil {
		return err
	}
	lq, la, lo := attnLayout(b, t, c, nHead)
	pairs, rows := b*nHead, b*nHead*t
	ds, err := d.scratchBuf(rows * t)
	if err != nil {
		return err
	}
	q, k, v := qkv.Slice(0, qkv.n), qkv.Slice(c, qkv.n-c), qkv.Slice(2*c, qkv.n-2*c)
	dq, dk, dv := dqkv.Slice(0, dqkv.n), dqkv.Slice(c, dqkv.n-c), dqkv.Slice(2*c, dqkv.n-2*c)
	if d.cublasAttention() {
		return d.attentionBackwardCublas(dq, dk, dv, ds, dout, q, k, v, att, b, t, c, nHead, drop)
	}
	steps := []func() error{
		func() error { // dA = dout Vᵀ, lower tiles
			return d.gemmOwn(gemmLowerC, false, true, t, t, hs, 1, dout, c, Buffer{}, v, 3*c, 0, ds, t,
				batch(pairs, nHead, lo, lq, la))
		},
		func() error { // dS = scale P (dP - rowsum(P dP)), dP = dA*drop
			return d.launch("attn_dsoftmax_f32", dim3{(rows + 7) / 8, 1, 1}, dim3{256, 1, 1}, 0,
				ds, att, drop, t, 1/math32.Sqrt(float32(hs)), int64(rows))
		},
		func() error { // dQ = dS K
			return d.gemmOwn(gemmLowerA, false, false, t, hs, t, 1, ds, t, Buffer{}, k, 3*c, 0, dq, 3*c,
				batch(pairs, nHead, la, lq, lq))
		},
		func() error { // dK = dSᵀ Q
			return d.gemmOwn(gemmUpperA, true, false, t, hs, t, 1, ds, t, Buffer{}, q, 3*c, 0, dk, 3*c,
				batch(pairs, nHead, la, lq, lq))
		},
		func() error { // dV = (P*drop)ᵀ dout
			return d.gemmOwn(gemmUpperA, true, false, t, hs, t, 1, att, t, drop, dout, c, 0, dv, 3*c,
				batch(pairs, nHead, la, lo, lq))
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// cublasAttention reports whether attention's products go through cuBLAS.
func (d *Device) cublasAttention() bool { return d.blas != nil && d.dry == nil && !d.ownAttention }

// attentionForwardCublas is AttentionForward's cuBLAS path; P*drop, when
// there is dropout, is formed in the scratch buffer.
func (d *Device) attentionForwardCublas(out, att, q, k, v Buffer, b, t, c, nHead int, drop Buffer) error {
	hs := c / nHead
	lq, la, lo := attnLayout(b, t, c, nHead)
	pairs, rows := b*nHead, b*nHead*t
	if err := d.gemmCublasBatch(false, true, t, t, hs, 1/math32.Sqrt(float32(hs)), q, 3*c, k, 3*c, 0, att, t,
		batch(pairs, nHead, lq, lq, la)); err != nil { // S = scale Q Kᵀ
		return err
	}
	if err := d.launch("attn_softmax_f32", dim3{(rows + 7) / 8, 1, 1}, dim3{256, 1, 1}, 0, att, t, int64(rows)); err != nil {
		return err
	}
	p := att
	if !drop.IsNil() {
		var err error
		if p, err = d.scratchBuf(rows * t); err != nil {
			return err
		}
		if err := d.Mul(p, att, drop, rows*t); err != nil {
			return err
		}
	}
	return d.gemmCublasBatch(false, false, t, hs, t, 1, p, t, v, 3*c, 0, out, c,
		batch(pairs, nHead, la, lq, lo)) // out = (P*drop) V
}

// attentionBackwardCublas is AttentionBackward's cuBLAS path, with ds the
// scratch buffer: first P*drop for dV, then dA and dS.
func (d *Device) attentionBackwardCublas(dq, dk, dv, ds, dout, q, k, v, att Buffer, b, t, c, nHead int, drop Buffer) error {
	hs := c / nHead
	lq, la, lo := attnLayout(b, t, c, nHead)
	pairs, rows := b*nHead, b*nHead*t
	p := att
	if !drop.IsNil() {
		if err := d.Mul(ds, att, drop, rows*t); err != nil {
			return err
		}
		p = ds
	}
	steps := []func() error{
		func() error { // dV = (P*drop)ᵀ dout
			return d.gemmCublasBatch(true, false, t, hs, t, 1, p, t, dout, c, 0, dv, 3*c, batch(pairs, nHead, la, lo, lq))
		},
		func() error { // dA = dout Vᵀ
			return d.gemmCublasBatch(false, true, t, t, hs, 1, dout, c, v, 3*c, 0, ds, t, batch(pairs, nHead, lo, lq, la))
		},
		func() error { // dS = scale P (dP - rowsum(P dP)), dP = dA*drop
			return d.launch("attn_dsoftmax_f32", dim3{(rows + 7) / 8, 1, 1}, dim3{256, 1, 1}, 0,
				ds, att, drop, t, 1/math32.Sqrt(float32(hs)), int64(rows))
		},
		func() error { // dQ = dS K
			return d.gemmCublasBatch(false, false, t, hs, t, 1, ds, t, k, 3*c, 0, dq, 3*c, batch(pairs, nHead, la, lq, lq))
		},
		func() error { // dK = dSᵀ Q
			return d.gemmCublasBatch(true, false, t, hs, t, 1, ds, t, q, 3*c, 0, dk, 3*c, batch(pairs, nHead, la, lq, lq))
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// needDrop checks an optional dropout mask.
func needDrop(op string, drop Buffer, n int) error {
	if drop.IsNil() {
		return nil
	}
	return need(op, want{"drop", drop, n})
}
