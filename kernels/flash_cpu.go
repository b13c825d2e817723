// Causal self-attention without the t×t probabilities: the CPU twins of
// flash.cu. The forward keeps, for each query row, the log of its softmax
// denominator (lse = m + log sum_j exp(s_j - m), s the scaled scores); the
// backward recomputes each probability as exp(s_ij - lse_i) and takes
// D_i = sum_j P_ij dP_ij as dout_i · out_i, so it needs the forward's output
// and lse, not P. Dropout on the probabilities, when p > 0, multiplies P_ij
// by hashKeep(p, seed, (pair*t + i)*t + j): the mask the batched path draws
// with dropout_mask_f32 from the same seed, recomputed where it is needed.
// Plain loops, one row at a time, in float32: the readable statement of
// what the GPU kernels compute in tiles.

package kernels

import "github.com/chewxy/math32"

// FlashHeadSize reports whether flash.cu has kernels for heads of size hs.
func FlashHeadSize(hs int) bool { return hs == 16 || hs == 32 || hs == 64 }

// FlashAttentionForward writes out (b*t, c) and lse (b, nHead, t) from qkv
// (b*t, 3c), as AttentionForward does (with the same layouts), with
// dropout p (0: none) on the probabilities from seed.
func FlashAttentionForward(out, lse, qkv []float32, b, t, c, nHead int, p float32, seed uint64) {
	hs := headSize(c, nHead)
	scale := 1 / math32.Sqrt(float32(hs))
	s := make([]float32, t)
	for pair := range b * nHead {
		bi, h := pair/nHead, pair%nHead
		rows := qkv[bi*t*3*c:]
		for i := range t {
			q := rows[i*3*c+h*hs : i*3*c+(h+1)*hs]
			m := math32.Inf(-1)
			for j := 0; j <= i; j++ {
				s[j] = scale * dot32(q, rows[j*3*c+c+h*hs:j*3*c+c+(h+1)*hs])
				m = max(m, s[j])
			}
			var l float32
			for j := 0; j <= i; j++ {
				s[j] = math32.Exp(s[j] - m)
				l += s[j]
			}
			o := out[(bi*t+i)*c+h*hs : (bi*t+i)*c+(h+1)*hs]
			clear(o)
			for j := 0; j <= i; j++ {
				a := s[j] / l
				if p > 0 {
					a *= hashKeep(p, seed, uint64((pair*t+i)*t+j))
				}
				axpy32(a, rows[j*3*c+2*c+h*hs:j*3*c+2*c+(h+1)*hs], o)
			}
			lse[pair*t+i] = m + math32.Log(l)
		}
	}
}

// FlashAttentionBackward overwrites dqkv (b*t, 3c) given dout (b*t, c) and
// the forward's qkv, out, lse, dropout p and seed; with M_ij the dropout
// multiplier (1 without dropout):
//
//	P_ij = exp(scale q_i·k_j - lse_i) for j <= i, D_i = dout_i · out_i
//	dS_ij = scale P_ij (M_ij dout_i·v_j - D_i)
//	dq_i = sum_j dS_ij k_j, dk_j = sum_i dS_ij q_i, dv_j = sum_i P_ij M_ij dout_i
//
// (D_i = sum_j P_ij M_ij dout_i·v_j, since out_i = sum_j P_ij M_ij v_j.)
func FlashAttentionBackward(dqkv, dout, qkv, out, lse []float32, b, t, c, nHead int, p float32, seed uint64) {
	hs := headSize(c, nHead)
	scale := 1 / math32.Sqrt(float32(hs))
	clear(dqkv[:b*t*3*c])
	for pair := range b * nHead {
		bi, h := pair/nHead, pair%nHead
		rows, drows := qkv[bi*t*3*c:], dqkv[bi*t*3*c:]
		for i := range t {
			q := rows[i*3*c+h*hs : i*3*c+(h+1)*hs]
			do := dout[(bi*t+i)*c+h*hs : (bi*t+i)*c+(h+1)*hs]
			di := dot32(do, out[(bi*t+i)*c+h*hs:(bi*t+i)*c+(h+1)*hs])
			dq := drows[i*3*c+h*hs : i*3*c+(h+1)*hs]
			for j := 0; j <= i; j++ {
				k := rows[j*3*c+c+h*hs : j*3*c+c+(h+1)*hs]
				v := rows[j*3*c+2*c+h*hs : j*3*c+2*c+(h+1)*hs]
				m := float32(1)
				if p > 0 {
					m = hashKeep(p, seed, uint64((pair*t+i)*t+j))
				}
				pij := math32.Exp(scale*dot32(q, k) - lse[pair*t+i])
				ds := scale * pij * (m*dot32(do, v) - di)
				axpy32(ds, k, dq)
				axpy32(ds, q, drows[j*3*c+c+h*hs:j*3*c+c+(h+1)*hs])
				axpy32(pij*m, do, drows[j*3*c+2*c+h*hs:j*3*c+2*c+(h+1)*hs])
			}
		}
	}
}
