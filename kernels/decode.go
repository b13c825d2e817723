package kernels

// The steps of the key/value-cache decoder on the GPU (decode.cu) that
// training has no kernel for, as plain CPU code: the twins the GPU kernels
// are tested against. A step feeds n new tokens, from one sequence or
// several, each at its own position; each sequence's keys and values live
// in a cache of rows of c floats, token r's sequence starting at row base[r]
// and the token itself at row base[r] + pos[r].
//
// The CPU decoder (graph.Decoder) computes the same things its own way:
// one sequence's cache at a time, the attention of a prompt in tiles
// (AttentionCached).

import (
	"slices"

	"github.com/chewxy/math32"
)

// decodeWarps is the warps of a block of the GPU's decode_attention_f32.
const decodeWarps = 4

// DecodeAttentionMaxKeys is the most keys (cache rows) a token of the GPU's
// DecodeAttention may attend to at head size hs: its block keeps their
// scores, and a row of hs floats for each of its warps, in the 48 KiB of
// shared memory a kernel gets without opting in to more (12,000 at head
// size 64, 11,744 at 128); 0 when not even one fits.
func DecodeAttentionMaxKeys(hs int) int { return max(0, (48<<10-32*4)/4-decodeWarps*hs) }

// DecodeEmbed writes out (n, c): row r is wte[idx[r]] + wpe[pos[r]], the
// embedding of token idx[r] at position pos[r].
func DecodeEmbed(out, wte, wpe []float32, idx, pos []int32, c int) {
	for r, id := range idx {
		row, te, pe := out[r*c:(r+1)*c], wte[int(id)*c:], wpe[int(pos[r])*c:]
		for j := range row {
			row[j] = te[j] + pe[j]
		}
	}
}

// DecodeKVStore copies the key and value of each new token r, columns
// c..2c and 2c..3c of row r of qkv (n, 3c), to row base[r] + pos[r] of the
// caches k and v.
func DecodeKVStore(k, v, qkv []float32, base, pos []int32, c int) {
	for r := range base {
		to := int(base[r]+pos[r]) * c
		row := qkv[r*3*c : (r+1)*3*c]
		copy(k[to:to+c], row[c:2*c])
		copy(v[to:to+c], row[2*c:])
	}
}

// DecodeAttention writes out (n, c): head h of token r is the attention of
// its query (columns h*hs..(h+1)*hs of row r of qkv (n, 3c)) over the
// cache rows base[r]..base[r]+pos[r] of k and v (its own key and value
// the last of them, stored first by DecodeKVStore), scaled by 1/sqrt(hs),
// hs = c/nHead.
func DecodeAttention(out, qkv, k, v []float32, base, pos []int32, c, nHead int) {
	hs := headSize(c, nHead)
	scale := 1 / math32.Sqrt(float32(hs))
	var p []float32
	for r := range base {
		keys := int(pos[r]) + 1
		p = slices.Grow(p[:0], keys)[:keys]
		for h := range nHead {
			q := qkv[r*3*c+h*hs : r*3*c+(h+1)*hs]
			for j := range keys {
				kj := k[(int(base[r])+j)*c+h*hs:]
				var s float32
				for d, qd := range q {
					s += qd * kj[d]
				}
				p[j] = s * scale
			}
			softmaxRow(p)
			o := out[r*c+h*hs : r*c+(h+1)*hs]
			clear(o)
			for j, pj := range p {
				vj := v[(int(base[r])+j)*c+h*hs:]
				for d := range o {
					o[d] += pj * vj[d]
				}
			}
		}
	}
}
