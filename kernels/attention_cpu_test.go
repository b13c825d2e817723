// Tests for the CPU causal attention: the forward against a naive float64
// reference that builds the full T×T scores with an explicit -inf mask, the
// backward against central differences of that reference, with and without a
// dropout mask, on one goroutine and on several.

package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// attentionRef is the naive reference: per (batch, head), S = QKᵀ*scale with
// -inf above the diagonal, P = softmax(S), out = (P*drop) V.
func attentionRef(qkv []float64, b, t, c, nHead int, drop []float32) (out, att []float64) {
	hs := c / nHead
	scale := 1 / math.Sqrt(float64(hs))
	out, att = make([]float64, b*t*c), make([]float64, b*nHead*t*t)
	at := func(bi, i, part, h, d int) float64 { return qkv[(bi*t+i)*3*c+part*c+h*hs+d] }
	for bi := range b {
		for h := range nHead {
			s := make([]float64, t*t)
			for i := range t {
				for j := range t {
					s[i*t+j] = math.Inf(-1)
					if j <= i {
						s[i*t+j] = 0
						for d := range hs {
							s[i*t+j] += at(bi, i, 0, h, d) * at(bi, j, 1, h, d)
						}
						s[i*t+j] *= scale
					}
				}
			}
			p := att[(bi*nHead+h)*t*t : (bi*nHead+h+1)*t*t]
			for i := range t {
				m := math.Inf(-1)
				for j := range t {
					m = max(m, s[i*t+j])
				}
				z := 0.0
				for j := range t {
					p[i*t+j] = math.Exp(s[i*t+j] - m)
					z += p[i*t+j]
				}
				for j := range t {
					p[i*t+j] /= z
				}
			}
			for i := range t {
				for d := range hs {
					o := 0.0
					for j := range t {
						a := p[i*t+j]
						if drop != nil {
							a *= float64(drop[(bi*nHead+h)*t*t+i*t+j])
						}
						o += a * at(bi, j, 2, h, d)
					}
					out[(bi*t+i)*c+h*hs+d] = o
				}
			}
		}
	}
	return out, att
}

func TestAttention(t *testing.T) {
	cases := []struct {
		name            string
		b, t, c, nHead  int
		dropP, maxprocs int // dropP in percent
	}{
		{"b2_t5_hs2", 2, 5, 6, 3, 0, 1},
		{"b2_t5_hs2_drop", 2, 5, 6, 3, 25, 4},
		{"b1_t9_hs11_drop", 1, 9, 22, 2, 30, 2},
		{"b2_t7_hs5_parallel", 2, 7, 15, 3, 0, 4},
		// Longer than attnTile and not a multiple of it: two tiles, the last partial.
		{"b1_t70_hs4_tiles", 1, 70, 8, 2, 0, 2},
		{"b1_t67_hs3_tiles_drop", 1, 67, 6, 2, 20, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.maxprocs))
			b, T, c, nHead := tc.b, tc.t, tc.c, tc.nHead
			rng := rand.New(rand.NewPCG(6, uint64(c)))
			qkv := testRand(rng, b*T*3*c, 1)
			r := testRand(rng, b*T*c, 1)
			var drop []float32 // the multipliers the kernels compute, for the reference
			p, seed := float32(tc.dropP)/100, uint64(c)
			if tc.dropP > 0 {
				drop = make([]float32, b*nHead*T*T)
				dropoutMaskHash(drop, p, seed, 0)
			}
			out, att := testNaN(b*T*c), testNaN(b*nHead*T*T)
			AttentionForward(out, att, qkv, b, T, c, nHead, p, seed)
			qkv64, r64 := test64(qkv), test64(r)
			out64, att64 := attentionRef(qkv64, b, T, c, nHead, drop)
			testCheck(t, "out", out, out64, 1e-5)
			testCheck(t, "att", att, att64, 1e-6)

			dqkv := testNaN(b * T * 3 * c)
			AttentionBackward(dqkv, r, qkv, att, b, T, c, nHead, p, seed)
			loss := func() float64 {
				out, _ := attentionRef(qkv64, b, T, c, nHead, drop)
				return testDot64(out, r64)
			}
			testCheck(t, "dqkv vs finite diff", dqkv, testNumGrad(qkv64, loss), 1e-5)
		})
	}
}

// The GPT-1 attention: B=8, T=512, C=768, 12 heads; metric: tokens per second.
func BenchmarkAttention(b *testing.B) {
	B, T, C, nHead := 8, 512, 768, 12
	r := rand.New(rand.NewPCG(1, 2))
	qkv, dout := testRand(r, B*T*3*C, 1), testRand(r, B*T*C, 1)
	out, att := make([]float32, B*T*C), make([]float32, B*nHead*T*T)
	dqkv := make([]float32, B*T*3*C)
	AttentionForward(out, att, qkv, B, T, C, nHead, 0, 0)
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			AttentionForward(out, att, qkv, B, T, C, nHead, 0, 0)
		}
		b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tok/s")
	})
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			AttentionBackward(dqkv, dout, qkv, att, B, T, C, nHead, 0, 0)
		}
		b.ReportMetric(float64(B*T*b.N)/b.Elapsed().Seconds(), "tok/s")
	})
}
