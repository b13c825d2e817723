// The flash twins against the fused CPU attention: the same output and
// gradient from the saved lse and output instead of the probabilities, and
// lse against the log of the naive reference's softmax denominator.

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFlashAttentionCPU(t *testing.T) {
	cases := []struct {
		name           string
		b, t, c, nHead int
		p              float32
	}{
		{"b2_t5_hs2", 2, 5, 6, 3, 0},
		{"b1_t70_hs16", 1, 70, 32, 2, 0},
		{"b2_t33_hs64", 2, 33, 128, 2, 0},
		{"b2_t33_hs16_drop", 2, 33, 64, 4, 0.2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, T, c, nHead := tc.b, tc.t, tc.c, tc.nHead
			rng := rand.New(rand.NewPCG(9, uint64(c)))
			qkv, dout := testRand(rng, b*T*3*c, 1), testRand(rng, b*T*c, 1)
			const seed = 11
			want, att := make([]float32, b*T*c), make([]float32, b*nHead*T*T)
			AttentionForward(want, att, qkv, b, T, c, nHead, tc.p, seed) // the mask flash recomputes
			wantGrad := make([]float32, b*T*3*c)
			AttentionBackward(wantGrad, dout, qkv, att, b, T, c, nHead, tc.p, seed)

			out, lse := testNaN(b*T*c), testNaN(b*nHead*T)
			FlashAttentionForward(out, lse, qkv, b, T, c, nHead, tc.p, seed)
			testCheck(t, "out", out, test64(want), 1e-5)

			// lse_i = log sum_j exp(s_ij): from the reference's scores.
			hs := c / nHead
			lseRef := make([]float64, b*nHead*T)
			for pair := range b * nHead {
				bi, h := pair/nHead, pair%nHead
				for i := range T {
					z := 0.0
					for j := 0; j <= i; j++ {
						s := 0.0
						for d := range hs {
							s += float64(qkv[(bi*T+i)*3*c+h*hs+d]) * float64(qkv[(bi*T+j)*3*c+c+h*hs+d])
						}
						z += math.Exp(s / math.Sqrt(float64(hs)))
					}
					lseRef[pair*T+i] = math.Log(z)
				}
			}
			testCheck(t, "lse", lse, lseRef, 1e-5)

			dqkv := testNaN(b * T * 3 * c)
			FlashAttentionBackward(dqkv, dout, qkv, out, lse, b, T, c, nHead, tc.p, seed)
			testCheck(t, "dqkv", dqkv, test64(wantGrad), 1e-5)
		})
	}
}
