// Causal multi-head self-attention on the CPU, fused: softmax(QKᵀ/sqrt(hs)) V
// with optional dropout on the probabilities, and its backward.
//
// Work is split over (batch, head) pairs on the worker pool; each pair touches
// its own columns of out and dqkv, so workers never share writes. Within a
// pair the rows are taken in tiles of attnTile queries: a tile's scores
// against the keys it may see (columns 0..end of the tile) are one small
// GEMM, so the products run in BLAS and the scores of a tile stay in cache.
// No mask is built: each row's softmax stops at the diagonal and writes zeros
// after it, and the backward's zeros in P keep dS zero above the diagonal.

package kernels

import (
	"fmt"
	"sync"

	"github.com/chewxy/math32"
)

// attnTile is the number of query rows per tile. Only the diagonal block of
// a tile computes scores that the mask then drops.
const attnTile = 64

// AttentionForward computes causal self-attention for b sequences of t tokens.
//
//	qkv  (b*t, 3c)         each row is [q | k | v]; head h uses columns h*hs..(h+1)*hs of each part
//	att  (b, nHead, t, t)  written: softmax probabilities, 0 above the diagonal
//	out  (b*t, c)          written: head h in columns h*hs..(h+1)*hs
//
// where hs = c/nHead and the scores are scaled by 1/sqrt(hs). With dropP >
// 0, dropout multiplies att by hashKeep(dropP, seed, e) before att@V, e
// the element's index in att (the mask dropout.cu draws into a tensor of
// att's shape, and flash attention recomputes): nothing is stored.
func AttentionForward(out, att, qkv []float32, b, t, c, nHead int, dropP float32, seed uint64) {
	hs := headSize(c, nHead)
	if t == 0 || hs == 0 {
		return
	}
	scale := 1 / math32.Sqrt(float32(hs))
	drops, keep := dropP > 0, newKeeper(dropP)
	parallelFor(b*nHead, func(pair int) {
		var s *attnScratch
		if drops {
			s = getScratch(attnTile * t)
			defer scratchPool.Put(s)
		}
		bi, h := pair/nHead, pair%nHead
		rows := qkv[bi*t*3*c : (bi+1)*t*3*c] // this sequence; row i of Q, K, V starts at i*3c
		q, k, v := rows[h*hs:], rows[c+h*hs:], rows[2*c+h*hs:]
		o := out[bi*t*c+h*hs:] // row i starts at i*c
		P := att[pair*t*t : (pair+1)*t*t]
		for i0 := 0; i0 < t; i0 += attnTile {
			i1 := min(i0+attnTile, t)
			p := P[i0*t:] // rows i0..i1 of P, stride t
			// Scores of rows i0..i1 against keys 0..i1, then a softmax per row up to the diagonal.
			sgemmSerial(false, true, i1-i0, i1, hs, scale, q[i0*3*c:], 3*c, k, 3*c, 0, p, t)
			for i := i0; i < i1; i++ {
				row := p[(i-i0)*t : (i-i0+1)*t]
				softmaxRow(row[:i+1])
				clear(row[i+1:])
			}
			// out rows i0..i1 = A V with A = P (or P*mask) over columns 0..i1.
			a, lda := p, t
			if drops {
				a, lda = s.buf, i1
				for i := i0; i < i1; i++ {
					ar, pr := a[(i-i0)*i1:(i-i0+1)*i1], p[(i-i0)*t:(i-i0)*t+i1]
					e := uint64(pair*t+i) * uint64(t)
					for j := range ar {
						ar[j] = pr[j] * keep.at(seed, e+uint64(j))
					}
				}
			}
			sgemmSerial(false, false, i1-i0, hs, i1, 1, a, lda, v, 3*c, 0, o[i0*c:], c)
		}
	})
}

// softmaxRow overwrites x with softmax(x).
func softmaxRow(x []float32) {
	scal32(1/expSubSum(x, max32(x)), x)
}

// AttentionBackward overwrites dqkv (b*t, 3c) with the gradient of the loss given
// dout (b*t, c), the forward's input qkv and its probabilities att, and
// its dropout. With P = att, A = P*mask and dA = dout Vᵀ:
//
//	dP = dA*mask, dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik)
//	dQ = scale dS K, dK = scale dSᵀ Q, dV = Aᵀ dout
//
// Tiles of rows go from the last to the first: the last tile sees every key,
// so its dK and dV products overwrite those columns of dqkv (beta 0) and the
// earlier tiles add to them.
func AttentionBackward(dqkv, dout, qkv, att []float32, b, t, c, nHead int, dropP float32, seed uint64) {
	hs := headSize(c, nHead)
	if t == 0 || hs == 0 {
		return
	}
	scale := 1 / math32.Sqrt(float32(hs))
	drops, keep := dropP > 0, newKeeper(dropP)
	parallelFor(b*nHead, func(pair int) {
		s := getScratch(2 * attnTile * t)
		defer scratchPool.Put(s)
		bi, h := pair/nHead, pair%nHead
		rows := qkv[bi*t*3*c : (bi+1)*t*3*c]
		drows := dqkv[bi*t*3*c : (bi+1)*t*3*c]
		q, k, v := rows[h*hs:], rows[c+h*hs:], rows[2*c+h*hs:] // row i starts at i*3c
		dq, dk, dv := drows[h*hs:], drows[c+h*hs:], drows[2*c+h*hs:]
		do := dout[bi*t*c+h*hs:] // row i starts at i*c
		P := att[pair*t*t : (pair+1)*t*t]
		last := (t - 1) / attnTile * attnTile
		for i0 := last; i0 >= 0; i0 -= attnTile {
			i1 := min(i0+attnTile, t)
			n := i1 - i0
			p := P[i0*t:]                             // rows i0..i1 of P, stride t
			ds, a := s.buf[:n*i1], s.buf[n*i1:2*n*i1] // (n, i1) each
			// dA = dout Vᵀ over rows i0..i1 and keys 0..i1; A = P*mask.
			sgemmSerial(false, true, n, i1, hs, 1, do[i0*c:], c, v, 3*c, 0, ds, i1)
			aT, lda := p, t
			if drops {
				aT, lda = a, i1
			}
			for i := i0; i < i1; i++ {
				pr, dr := p[(i-i0)*t:(i-i0)*t+i1], ds[(i-i0)*i1:(i-i0+1)*i1]
				if drops {
					ar, e := a[(i-i0)*i1:(i-i0+1)*i1], uint64(pair*t+i)*uint64(t)
					for j := range ar {
						d := keep.at(seed, e+uint64(j))
						dr[j] *= d
						ar[j] = pr[j] * d
					}
				}
				pd := dot32(pr, dr)
				for j, pj := range pr {
					dr[j] = scale * pj * (dr[j] - pd)
				}
			}
			beta := float32(1)
			if i0 == last {
				beta = 0
			}
			sgemmSerial(false, false, n, hs, i1, 1, ds, i1, k, 3*c, 0, dq[i0*3*c:], 3*c)
			sgemmSerial(true, false, i1, hs, n, 1, ds, i1, q[i0*3*c:], 3*c, beta, dk, 3*c)
			sgemmSerial(true, false, i1, hs, n, 1, aT, lda, do[i0*c:], c, beta, dv, 3*c)
		}
	})
}

// headSize returns c/nHead, and panics unless nHead divides c.
func headSize(c, nHead int) int {
	hs, err := headSizeOf("attention", c, nHead)
	if err != nil {
		panic("kernels: " + err.Error())
	}
	return hs
}

// headSizeOf returns c/nHead, or an error for what when nHead does not
// divide c.
func headSizeOf(what string, c, nHead int) (int, error) {
	if nHead <= 0 || c%nHead != 0 {
		return 0, fmt.Errorf("%s: c=%d is not divisible by nHead=%d", what, c, nHead)
	}
	return c / nHead, nil
}

// attnScratch is one worker's scratch: dS and A of one tile.
type attnScratch struct{ buf []float32 }

// scratchPool keeps the scratch between calls, so steady-state calls do not allocate.
var scratchPool = sync.Pool{New: func() any { return new(attnScratch) }}

func getScratch(n int) *attnScratch {
	s := scratchPool.Get().(*attnScratch)
	if cap(s.buf) < n {
		s.buf = make([]float32, n)
	}
	s.buf = s.buf[:n]
	return s
}
