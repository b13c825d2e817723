// Token plus position embedding on the CPU: out = wte[idx] + wpe[position],
// and its backward, a scatter-add into dwte and dwpe.

package kernels

// EmbeddingForward writes out (b*t, c): row bi*t+ti is wte[idx[bi*t+ti]] + wpe[ti].
// An id outside wte panics (callers validate ids).
func EmbeddingForward(out, wte, wpe []float32, idx []int32, b, t, c int) {
	for bi := range b {
		for ti := range t {
			r := bi*t + ti
			id := int(idx[r])
			o := out[r*c : (r+1)*c]
			e := wte[id*c : (id+1)*c]
			p := wpe[ti*c : (ti+1)*c]
			for j := range o {
				o[j] = e[j] + p[j]
			}
		}
	}
}

// EmbeddingBackward overwrites dwte and dwpe (all of both slices) with the
// gradients given dout (b*t, c): zero, then dwte[idx[r]] += dout[r] and
// dwpe[ti] += dout[r] for every row r = bi*t+ti. A large dwte (a BPE
// vocabulary) is cleared on the worker pool; the scatter is split by
// columns, so workers never add into the same element and the sums keep
// their order.
func EmbeddingBackward(dwte, dwpe, dout []float32, idx []int32, b, t, c int) {
	parallelRanges(len(dwte), blocks(len(dwte), 1<<18), func(lo, hi int) { clear(dwte[lo:hi]) })
	clear(dwpe)
	parallelRanges(c, min(c/64, blocks(b*t*c, 1<<16)), func(lo, hi int) {
		for bi := range b {
			for ti := range t {
				r := bi*t + ti
				id := int(idx[r])
				d := dout[r*c+lo : r*c+hi]
				axpy32(1, d, dwte[id*c+lo:id*c+hi])
				axpy32(1, d, dwpe[ti*c+lo:ti*c+hi])
			}
		}
	})
}
