// Causal multi-head self-attention on the CPU, fused: softmax(QKᵀ/sqrt(hs)) V
// with an optional dropout mask on the probabilities, and its backward. Work is
// split over (batch, head) pairs across GOMAXPROCS goroutines; each pair touches
// its own rows and columns of out and dqkv, so the workers never share writes.

package kernels

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/chewxy/math32"
)

// AttentionForward computes causal self-attention for b sequences of t tokens.
//
//	qkv  (b*t, 3c)         each row is [q | k | v]; head h uses columns h*hs..(h+1)*hs of each part
//	att  (b, nHead, t, t)  written: softmax probabilities, 0 above the diagonal
//	drop (b, nHead, t, t)  nil, or dropout multipliers (0 or 1/(1-p)) applied to att before att@V
//	out  (b*t, c)          written: head h in columns h*hs..(h+1)*hs
//
// where hs = c/nHead and the scores are scaled by 1/sqrt(hs).
func AttentionForward(out, att, qkv []float32, b, t, c, nHead int, drop []float32) {
	hs := headSize(c, nHead)
	scale := 1 / math32.Sqrt(float32(hs))
	parallelPairs(b*nHead, func(pair int) {
		s := getScratch(t, 0)
		defer scratchPool.Put(s)
		bi, h := pair/nHead, pair%nHead
		rows := qkv[bi*t*3*c : (bi+1)*t*3*c]   // this sequence
		k, v := rows[c+h*hs:], rows[2*c+h*hs:] // row j of K (V) starts at j*3c
		for i := range t {
			q := rows[i*3*c+h*hs : i*3*c+(h+1)*hs]
			p := att[(pair*t+i)*t : (pair*t+i+1)*t]
			// Scores for j <= i, then a stable softmax over them.
			dotRows(p[:i+1], q, k, 3*c)
			maxv := math32.Inf(-1)
			for j := 0; j <= i; j++ {
				p[j] *= scale
				maxv = max(maxv, p[j])
			}
			var sum float32
			for j := 0; j <= i; j++ {
				p[j] = math32.Exp(p[j] - maxv)
				sum += p[j]
			}
			inv := 1 / sum
			for j := 0; j <= i; j++ {
				p[j] *= inv
			}
			clear(p[i+1:])
			// out_i = sum over j <= i of p_ij*drop_ij * v_j.
			a := p[:i+1]
			if drop != nil {
				a = s.w[:i+1]
				for j, d := range drop[(pair*t+i)*t : (pair*t+i)*t+i+1] {
					a[j] = p[j] * d
				}
			}
			o := out[(bi*t+i)*c+h*hs : (bi*t+i)*c+(h+1)*hs]
			clear(o)
			addRows(o, a, v, 3*c)
		}
	})
}

// AttentionBackward overwrites dqkv (b*t, 3c) with the gradient of the loss given
// dout (b*t, c), the forward's input qkv and its probabilities att. With
// P = att, A = P*drop and dA = dout Vᵀ:
//
//	dP = dA*drop, dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik)
//	dQ = scale dS K, dK = scale dSᵀ Q, dV = Aᵀ dout
//
// Rows of dS are computed first (with dQ); dK and dV are then summed column by column.
func AttentionBackward(dqkv, dout, qkv, att []float32, b, t, c, nHead int, drop []float32) {
	hs := headSize(c, nHead)
	scale := 1 / math32.Sqrt(float32(hs))
	parallelPairs(b*nHead, func(pair int) {
		s := getScratch(t, t*t)
		defer scratchPool.Put(s)
		bi, h := pair/nHead, pair%nHead
		rows := qkv[bi*t*3*c : (bi+1)*t*3*c]
		drows := dqkv[bi*t*3*c : (bi+1)*t*3*c]
		dos := dout[bi*t*c+h*hs:]                              // row i of this head's dout starts at i*c
		q, k, v := rows[h*hs:], rows[c+h*hs:], rows[2*c+h*hs:] // row i starts at i*3c
		for i := range t {
			p := att[(pair*t+i)*t : (pair*t+i)*t+i+1]
			do := dos[i*c : i*c+hs]
			// dS row i, j <= i: first dP_ij, with pd = sum_j P_ij dP_ij.
			ds := s.ds[i*t : i*t+i+1]
			dotRows(ds, do, v, 3*c)
			if drop != nil {
				for j, d := range drop[(pair*t+i)*t : (pair*t+i)*t+i+1] {
					ds[j] *= d
				}
			}
			var pd float32
			for j, pj := range p {
				pd += pj * ds[j]
			}
			for j, pj := range p {
				ds[j] = scale * pj * (ds[j] - pd)
			}
			dq := drows[i*3*c+h*hs : i*3*c+(h+1)*hs]
			clear(dq)
			addRows(dq, ds, k, 3*c)
		}
		for j := range t {
			// Column j over rows i >= j: dv_j = sum A_ij do_i, dk_j = sum dS_ij q_i.
			w := s.w[:t-j]
			for i := j; i < t; i++ {
				a := att[(pair*t+i)*t+j]
				if drop != nil {
					a *= drop[(pair*t+i)*t+j]
				}
				w[i-j] = a
			}
			dv := drows[j*3*c+2*c+h*hs : j*3*c+2*c+(h+1)*hs]
			clear(dv)
			addRows(dv, w, dos[j*c:], c)
			for i := j; i < t; i++ {
				w[i-j] = s.ds[i*t+j]
			}
			dk := drows[j*3*c+c+h*hs : j*3*c+c+(h+1)*hs]
			clear(dk)
			addRows(dk, w, q[j*3*c:], 3*c)
		}
	})
}

// dotRows sets out[j] = dot(q, x[j*stride : j*stride+len(q)]) for j < len(out),
// four rows at a time so each element of q is loaded once per four rows.
func dotRows(out, q, x []float32, stride int) {
	n := len(q)
	j := 0
	for ; j+4 <= len(out); j += 4 {
		x0 := x[j*stride:][:n]
		x1 := x[(j+1)*stride:][:n]
		x2 := x[(j+2)*stride:][:n]
		x3 := x[(j+3)*stride:][:n]
		var s0, s1, s2, s3 float32
		for d, qd := range q {
			s0 += qd * x0[d]
			s1 += qd * x1[d]
			s2 += qd * x2[d]
			s3 += qd * x3[d]
		}
		out[j], out[j+1], out[j+2], out[j+3] = s0, s1, s2, s3
	}
	for ; j < len(out); j++ {
		out[j] = dot32(q, x[j*stride:])
	}
}

// addRows computes y += sum_j w[j] * x[j*stride : j*stride+len(y)], four rows
// at a time so y is loaded and stored once per four rows.
func addRows(y, w, x []float32, stride int) {
	n := len(y)
	j := 0
	for ; j+4 <= len(w); j += 4 {
		x0 := x[j*stride:][:n]
		x1 := x[(j+1)*stride:][:n]
		x2 := x[(j+2)*stride:][:n]
		x3 := x[(j+3)*stride:][:n]
		a0, a1, a2, a3 := w[j], w[j+1], w[j+2], w[j+3]
		for d := range y {
			y[d] += (a0*x0[d] + a1*x1[d]) + (a2*x2[d] + a3*x3[d])
		}
	}
	for ; j < len(w); j++ {
		axpy32(w[j], x[j*stride:][:n], y)
	}
}

// headSize returns c/nHead, and panics unless nHead divides c.
func headSize(c, nHead int) int {
	if nHead <= 0 || c%nHead != 0 {
		panic(fmt.Sprintf("kernels: attention: c=%d is not divisible by nHead=%d", c, nHead))
	}
	return c / nHead
}

// attnScratch is one worker's scratch: a row of weights and, in the backward,
// the t×t matrix dS (only j <= i is used).
type attnScratch struct{ w, ds []float32 }

// scratchPool keeps the scratch between calls, so steady-state calls do not allocate.
var scratchPool = sync.Pool{New: func() any { return new(attnScratch) }}

func getScratch(nw, nds int) *attnScratch {
	s := scratchPool.Get().(*attnScratch)
	if cap(s.w) < nw {
		s.w = make([]float32, nw)
	}
	if cap(s.ds) < nds {
		s.ds = make([]float32, nds)
	}
	s.w, s.ds = s.w[:nw], s.ds[:nds]
	return s
}

// parallelPairs calls fn(i) for every i < n, on up to GOMAXPROCS goroutines that
// take the next index from a shared counter, and returns when all calls are done.
func parallelPairs(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		})
	}
	wg.Wait()
}
