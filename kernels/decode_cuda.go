//go:build cuda

package kernels

import (
	"fmt"

	"github.com/chewxy/math32"
)

// The key/value-cache decoder's own kernels (decode.cu), the twins of
// DecodeEmbed, DecodeKVStore and DecodeAttention. The int32 buffers (ids,
// positions, cache bases) are checked by the caller, which wrote them.

// DecodeEmbed writes out (n, c): row r is wte[idx[r]] + wpe[pos[r]].
func (d *Device) DecodeEmbed(out, wte, wpe, idx, pos Buffer, n, c int) error {
	if err := need("decode embed", want{"out", out, n * c}, want{"wte", wte, c}, want{"wpe", wpe, c},
		want{"idx", idx, n}, want{"pos", pos, n}); err != nil {
		return err
	}
	return d.launch("decode_embed_f32", d.grid1(n*c, 256), dim3{256, 1, 1}, 0, out, wte, wpe, idx, pos, n, c)
}

// DecodeKVStore copies the keys and values of qkv (n, 3c) to rows
// base[r] + pos[r] of the caches k and v.
func (d *Device) DecodeKVStore(k, v, qkv, base, pos Buffer, n, c int) error {
	if err := need("decode kv store", want{"k", k, c}, want{"v", v, c}, want{"qkv", qkv, n * 3 * c},
		want{"base", base, n}, want{"pos", pos, n}); err != nil {
		return err
	}
	return d.launch("decode_kv_store_f32", d.grid1(n*c, 256), dim3{256, 1, 1}, 0, k, v, qkv, base, pos, n, c)
}

// DecodeAttention writes out (n, c): each token's queries (qkv (n, 3c))
// over the cache rows base[r]..base[r]+pos[r] of k and v. maxKeys is at
// least the largest pos[r] + 1, and at most DecodeAttentionMaxKeys.
func (d *Device) DecodeAttention(out, qkv, k, v, base, pos Buffer, n, c, nHead, maxKeys int) error {
	hs, err := headSizeOf("decode attention", c, nHead)
	if err != nil {
		return err
	}
	if err := need("decode attention", want{"out", out, n * c}, want{"qkv", qkv, n * 3 * c},
		want{"k", k, maxKeys * c}, want{"v", v, maxKeys * c}, want{"base", base, n}, want{"pos", pos, n}); err != nil {
		return err
	}
	if most := DecodeAttentionMaxKeys(hs); maxKeys > most || maxKeys < 1 {
		return fmt.Errorf("cuda: decode attention: %d keys, want 1 to %d at head size %d", maxKeys, most, hs)
	}
	if n == 0 {
		return nil
	}
	scale := 1 / math32.Sqrt(float32(hs))
	shmem := (maxKeys + decodeWarps*hs) * 4
	return d.launch("decode_attention_f32", dim3{n, nHead, 1}, dim3{32 * decodeWarps, 1, 1}, shmem,
		out, qkv, k, v, base, pos, c, nHead, maxKeys, scale)
}
