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
		bi, h := pair/nHead, pair%nHead
		rows := qkv[bi*t*3*c : (bi+1)*t*3*c] // this sequence
		for i := range t {
			q := rows[i*3*c+h*hs : i*3*c+(h+1)*hs]
			p := att[(pair*t+i)*t : (pair*t+i+1)*t]
			// Scores for j <= i, then a stable softmax over them.
			maxv := math32.Inf(-1)
			for j := 0; j <= i; j++ {
				s := scale * dot32(q, rows[j*3*c+c+h*hs:])
				p[j] = s
				maxv = max(maxv, s)
			}
			var sum float32
			for j := 0; j <= i; j++ {
				e := math32.Exp(p[j] - maxv)
				p[j] = e
				sum += e
			}
			inv := 1 / sum
			for j := 0; j <= i; j++ {
				p[j] *= inv
			}
			clear(p[i+1:])
			// out_i = sum over j <= i of p_ij*drop_ij * v_j.
			o := out[(bi*t+i)*c+h*hs : (bi*t+i)*c+(h+1)*hs]
			clear(o)
			for j := 0; j <= i; j++ {
				a := p[j]
				if drop != nil {
					a *= drop[(pair*t+i)*t+j]
				}
				axpy32(a, rows[j*3*c+2*c+h*hs:j*3*c+2*c+(h+1)*hs], o)
			}
		}
	})
}

// AttentionBackward overwrites dqkv (b*t, 3c) with the gradient of the loss given
// dout (b*t, c), the forward's input qkv and its probabilities att. With
// A = att*drop, S the scaled scores and P = att:
//
//	dV = Aᵀ dout, dA = dout Vᵀ, dP = dA*drop, dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik),
//	dQ = scale dS K, dK = scale dSᵀ Q.
func AttentionBackward(dqkv, dout, qkv, att []float32, b, t, c, nHead int, drop []float32) {
	hs := headSize(c, nHead)
	scale := 1 / math32.Sqrt(float32(hs))
	parallelPairs(b*nHead, func(pair int) {
		bi, h := pair/nHead, pair%nHead
		rows := qkv[bi*t*3*c : (bi+1)*t*3*c]
		drows := dqkv[bi*t*3*c : (bi+1)*t*3*c]
		for i := range t { // this pair's columns of dq, dk and dv
			for part := range 3 {
				clear(drows[i*3*c+part*c+h*hs : i*3*c+part*c+(h+1)*hs])
			}
		}
		scratch := rowPool.Get().(*[]float32)
		if cap(*scratch) < t {
			*scratch = make([]float32, t)
		}
		dp := (*scratch)[:t]
		for i := range t {
			p := att[(pair*t+i)*t : (pair*t+i)*t+i+1]
			do := dout[(bi*t+i)*c+h*hs : (bi*t+i)*c+(h+1)*hs]
			// dP_ij and dV_j for j <= i; pd = sum_j P_ij dP_ij.
			var pd float32
			for j := range p {
				a, dpj := p[j], dot32(do, rows[j*3*c+2*c+h*hs:])
				if drop != nil {
					d := drop[(pair*t+i)*t+j]
					a *= d
					dpj *= d
				}
				axpy32(a, do, drows[j*3*c+2*c+h*hs:])
				dp[j] = dpj
				pd += p[j] * dpj
			}
			// dS_ij through the softmax, then into dq_i and dk_j.
			q := rows[i*3*c+h*hs : i*3*c+(h+1)*hs]
			dq := drows[i*3*c+h*hs : i*3*c+(h+1)*hs]
			for j := range p {
				ds := scale * p[j] * (dp[j] - pd)
				axpy32(ds, rows[j*3*c+c+h*hs:j*3*c+c+(h+1)*hs], dq)
				axpy32(ds, q, drows[j*3*c+c+h*hs:])
			}
		}
		rowPool.Put(scratch)
	})
}

// headSize returns c/nHead, and panics unless nHead divides c.
func headSize(c, nHead int) int {
	if nHead <= 0 || c%nHead != 0 {
		panic(fmt.Sprintf("kernels: attention: c=%d is not divisible by nHead=%d", c, nHead))
	}
	return c / nHead
}

// rowPool holds the backward's per-worker scratch row, so steady-state calls do
// not allocate.
var rowPool = sync.Pool{New: func() any { return new([]float32) }}

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
