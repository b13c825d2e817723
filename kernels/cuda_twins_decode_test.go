//go:build cuda

package kernels

// decode covers the key/value-cache decoder's kernels: a step of tokens
// from b+1 sequences with caches of t rows, each sequence at a random
// position with a random number of new tokens (a prompt, or one token), as
// graph.DeviceDecoder feeds them.
func (g *gpuHarness) decode(b, t, c, nHead, v int) {
	slots := b + 1
	var idx, pos, base []int32
	maxKeys := 0
	for s := range slots {
		at := g.rng.IntN(t)       // tokens already in the cache
		n := 1 + g.rng.IntN(t-at) // new ones
		if s == 0 {
			at, n = t-1, 1 // one token at the last position: every key
		}
		for j := range n {
			idx = append(idx, int32(g.rng.IntN(v)))
			pos, base = append(pos, int32(at+j)), append(base, int32(s*t))
		}
		maxKeys = max(maxKeys, at+n)
	}
	n := len(idx)
	wte, wpe := g.randn(v*c, 1), g.randn(t*c, 1)
	qkv, k, vv := g.randn(n*3*c, 1), g.randn(slots*t*c, 1), g.randn(slots*t*c, 1)
	emb, out := make([]float32, n*c), make([]float32, n*c)
	k1, v1 := append([]float32(nil), k...), append([]float32(nil), vv...)
	g.cpu(func() {
		DecodeEmbed(emb, wte, wpe, idx, pos, c)
		DecodeKVStore(k1, v1, qkv, base, pos, c)
		DecodeAttention(out, qkv, k1, v1, base, pos, c, nHead)
	})

	gidx, gpos, gbase := g.upInt(idx), g.upInt(pos), g.upInt(base)
	gemb := g.alloc(n * c)
	ms := g.timed(func() error { return g.d.DecodeEmbed(gemb, g.up(wte), g.up(wpe), gidx, gpos, n, c) })
	g.compare("decode_embed", ms, g.down(gemb, n*c), emb, 0, 0)
	gqkv, gk, gv := g.up(qkv), g.up(k), g.up(vv)
	ms = g.timed(func() error { return g.d.DecodeKVStore(gk, gv, gqkv, gbase, gpos, n, c) })
	g.compare("decode_kv_store k", ms, g.down(gk, slots*t*c), k1, 0, 0)
	g.compare("decode_kv_store v", ms, g.down(gv, slots*t*c), v1, 0, 0)
	gout := g.alloc(n * c)
	ms = g.timed(func() error { return g.d.DecodeAttention(gout, gqkv, gk, gv, gbase, gpos, n, c, nHead, maxKeys) })
	g.compare("decode_attention", ms, g.down(gout, n*c), out, 1e-5, 1e-4)
}
