// Causal attention against a key/value cache, for sampling one token (or a
// prompt) at a time. A model that has already run tokens 0..pos-1 keeps their
// keys and values; the next n tokens need only their own queries, keys and
// values and a pass over the cache, instead of a forward over the whole
// window. Inference only: no probabilities are kept, no gradient.

package kernels

import "github.com/chewxy/math32"

// AttentionCached computes causal self-attention for n new tokens at
// positions pos..pos+n-1 of one sequence:
//
//	q    (n, ldq)      row i holds the query of token pos+i; head h in columns h*hs..(h+1)*hs
//	k, v (pos+n, ldkv) the keys and values of tokens 0..pos+n-1 (the new ones included)
//	out  (n, c)        written: head h in columns h*hs..(h+1)*hs
//
// Row i attends to keys 0..pos+i, scaled by 1/sqrt(hs), hs = c/nHead, so its
// output equals row pos+i of AttentionForward over the whole sequence.
func AttentionCached(out, q []float32, ldq int, k, v []float32, ldkv int, n, pos, c, nHead int) {
	hs := headSize(c, nHead)
	if n == 0 || hs == 0 {
		return
	}
	keys := pos + n
	scale := 1 / math32.Sqrt(float32(hs))
	parallelFor(nHead, func(h int) {
		s := getScratch(min(n, attnTile) * keys)
		defer scratchPool.Put(s)
		qh, kh, vh, oh := q[h*hs:], k[h*hs:], v[h*hs:], out[h*hs:]
		for i0 := 0; i0 < n; i0 += attnTile {
			i1 := min(i0+attnTile, n)
			seen := pos + i1 // keys the last row of the tile may see
			p := s.buf
			sgemmSerial(false, true, i1-i0, seen, hs, scale, qh[i0*ldq:], ldq, kh, ldkv, 0, p, seen)
			for i := i0; i < i1; i++ {
				row := p[(i-i0)*seen : (i-i0+1)*seen]
				softmaxRow(row[:pos+i+1])
				clear(row[pos+i+1:])
			}
			sgemmSerial(false, false, i1-i0, hs, seen, 1, p, seen, vh, ldkv, 0, oh[i0*c:], c)
		}
	})
}
