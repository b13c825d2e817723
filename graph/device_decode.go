//go:build cuda

package graph

// DeviceDecoder is Decoder on a GPU: the same incremental forward pass over
// the same weights, step for step, with the weights, the key/value caches
// and every intermediate in device memory. A step uploads its token ids
// and positions (one copy) and downloads the logits of each slot's last
// token (the one wait); training's kernels do the LayerNorms, products,
// GELU and residual adds, and decode.cu the embedding at each token's own
// position, the caches' update and the attention of the new tokens against
// them. Inference only: no dropout, no gradients.

import (
	"errors"
	"fmt"
	"slices"

	"gptctl/kernels"
)

// DeviceDecoder holds a copy of a model's weights on the device, and a
// cache of n_ctx keys and values per layer for each of its slots. It is not
// safe for concurrent use; Close frees its device memory.
type DeviceDecoder struct {
	d      *kernels.Device
	cfg    Config
	V      int // the embedding's rows: the logits of a slot
	wte    kernels.Buffer
	wpe    kernels.Buffer
	lnf    [2]kernels.Buffer
	layers []deviceDecoderLayer
	k, v   kernels.Buffer // (n_layer, slots, n_ctx, C) each
	n      []int          // tokens in each slot's cache
	bufs   []kernels.Buffer

	rows                         int // tokens the scratch holds
	x, h, qkv, y, u, g, mean, rs kernels.Buffer
	meta                         kernels.Buffer // int32: ids, positions, cache bases (rows each), last rows (slots)
	last, final, logits          kernels.Buffer // (slots, C), (slots, C), (slots, V)
	host                         []int32
	out                          []float32
}

type deviceDecoderLayer struct {
	ln1, ln2, attn, attnProj, fc, mlpProj [2]kernels.Buffer // weight, bias
}

// NewDeviceDecoder uploads p's weights to d and allocates the caches of
// slots sequences: 2 * n_layer * n_ctx * n_embd floats each, allocated at
// once. p is not read again.
func NewDeviceDecoder(d *Device, p *Params, slots int) (_ *DeviceDecoder, err error) {
	w, err := decoderWeightsOf(p, slots)
	if err != nil {
		return nil, err
	}
	cfg := p.Config
	C := cfg.NEmbd
	hs := C / cfg.NHead
	if most := DeviceDecoderMaxCtx(hs); cfg.NCtx > most {
		return nil, fmt.Errorf("graph: decoder: n_ctx %d is over the %d keys the GPU decoder's attention takes at head size %d: sample on the CPU", cfg.NCtx, most, hs)
	}
	dd := &DeviceDecoder{d: d, cfg: cfg, V: len(w.wte) / C, n: make([]int, slots)}
	if err = dd.upload(w); err == nil {
		err = dd.allocState(slots)
	}
	if err != nil {
		dd.Close()
		return nil, err
	}
	return dd, nil
}

// upload copies the weights w to the device.
func (dd *DeviceDecoder) upload(w decoderWeights) (err error) {
	up := func(x []float32) (kernels.Buffer, error) {
		b, err := dd.alloc(len(x))
		if err == nil {
			err = dd.d.Upload(b, x)
		}
		return b, err
	}
	pair := func(dst *[2]kernels.Buffer, wb [2][]float32) (err error) {
		if dst[0], err = up(wb[0]); err == nil {
			dst[1], err = up(wb[1])
		}
		return err
	}
	if dd.wte, err = up(w.wte); err != nil {
		return err
	}
	if dd.wpe, err = up(w.wpe); err != nil {
		return err
	}
	if dd.cfg.Arch == "gpt2" {
		if err := pair(&dd.lnf, w.lnf); err != nil {
			return err
		}
	}
	for _, l := range w.layers {
		var dl deviceDecoderLayer
		if err := firstErr(
			func() error { return pair(&dl.ln1, l.ln1) }, func() error { return pair(&dl.ln2, l.ln2) },
			func() error { return pair(&dl.attn, l.attn) }, func() error { return pair(&dl.attnProj, l.attnProj) },
			func() error { return pair(&dl.fc, l.fc) }, func() error { return pair(&dl.mlpProj, l.mlpProj) }); err != nil {
			return err
		}
		dd.layers = append(dd.layers, dl)
	}
	return nil
}

// allocState allocates the key and value caches of slots sequences and
// the buffers of their last tokens and logits.
func (dd *DeviceDecoder) allocState(slots int) (err error) {
	C := dd.cfg.NEmbd
	cache := dd.cfg.NLayer * slots * dd.cfg.NCtx * C
	for _, b := range []struct {
		dst *kernels.Buffer
		n   int
	}{{&dd.k, cache}, {&dd.v, cache}, {&dd.last, slots * C}, {&dd.final, slots * C}, {&dd.logits, slots * dd.V}} {
		if *b.dst, err = dd.alloc(b.n); err != nil {
			return err
		}
	}
	dd.out = make([]float32, slots*dd.V)
	return nil
}

func (dd *DeviceDecoder) alloc(n int) (kernels.Buffer, error) {
	b, err := dd.d.Alloc(max(n, 1))
	if err == nil {
		dd.bufs = append(dd.bufs, b)
	}
	return b, err
}

// Close waits for the decoder's work on the device and frees its memory;
// the decoder is not to be used after it.
func (dd *DeviceDecoder) Close() error {
	errs := []error{dd.d.Sync()}
	for _, b := range dd.bufs {
		errs = append(errs, dd.d.Free(b))
	}
	*dd = DeviceDecoder{d: dd.d, cfg: dd.cfg, n: make([]int, len(dd.n))}
	return errors.Join(errs...)
}

// Context is the most tokens a slot's cache holds: the model's n_ctx.
func (dd *DeviceDecoder) Context() int { return dd.cfg.NCtx }

// Slots is the number of sequences the decoder keeps.
func (dd *DeviceDecoder) Slots() int { return len(dd.n) }

// Len is the number of tokens in slot's cache.
func (dd *DeviceDecoder) Len(slot int) int { return dd.n[slot] }

// Reset empties slot's cache.
func (dd *DeviceDecoder) Reset(slot int) { dd.n[slot] = 0 }

// Append runs ids as the tokens at positions Len(slot)..Len(slot)+len(ids)-1
// of slot and returns the logits that follow the last of them.
func (dd *DeviceDecoder) Append(slot int, ids []int) ([]float32, error) {
	return dd.Feed([]int{slot}, [][]int{ids})
}

// Feed appends ids[i] to slot slots[i], for every i at once (a slot at
// most once), and returns the logits that follow the last token of each,
// row i of a (len(slots), V) matrix valid until the next call, as
// Decoder.Feed does.
func (dd *DeviceDecoder) Feed(slots []int, ids [][]int) ([]float32, error) {
	rows, err := checkFeed(dd.cfg, dd.V, len(dd.n), dd.Len, slots, ids)
	if err != nil {
		return nil, err
	}
	if err := dd.grow(rows); err != nil {
		return nil, err
	}
	keys, err := dd.uploadMeta(slots, ids, rows)
	if err != nil {
		return nil, err
	}
	n, meta := len(slots), dd.meta
	gIdx, gPos, gBase, gLast := meta.Slice(0, rows), meta.Slice(rows, rows), meta.Slice(2*rows, rows), meta.Slice(3*rows, n)
	x, h := dd.x.Slice(0, rows*dd.cfg.NEmbd), dd.h.Slice(0, rows*dd.cfg.NEmbd)
	if err := dd.d.DecodeEmbed(x, dd.wte, dd.wpe, gIdx, gPos, rows, dd.cfg.NEmbd); err != nil {
		return nil, err
	}
	for li := range dd.layers {
		if err := dd.block(li, x, h, gBase, gPos, rows, keys); err != nil {
			return nil, err
		}
	}
	out, err := dd.head(x, gLast, rows, n)
	if err != nil {
		return nil, err
	}
	for i, s := range slots {
		dd.n[s] += len(ids[i])
	}
	return out, nil
}

// uploadMeta uploads the step's int32s to meta in one copy: each token's
// id, position and first cache row (its slot's), then each slot's last
// row. It returns the most keys any token attends to.
func (dd *DeviceDecoder) uploadMeta(slots []int, ids [][]int, rows int) (keys int, err error) {
	host := dd.host[:3*rows+len(slots)]
	idx, pos, base, last := host[:rows], host[rows:2*rows], host[2*rows:3*rows], host[3*rows:]
	r := 0
	for i, s := range slots {
		for j, id := range ids[i] {
			idx[r], pos[r], base[r] = int32(id), int32(dd.n[s]+j), int32(s*dd.cfg.NCtx)
			r++
		}
		last[i] = int32(r - 1)
		keys = max(keys, dd.n[s]+len(ids[i]))
	}
	return keys, dd.d.UploadInt32(dd.meta, host)
}

// block runs layer li on x (rows, C) in place, h its scratch.
func (dd *DeviceDecoder) block(li int, x, h, base, pos kernels.Buffer, rows, keys int) error {
	l, d, n := &dd.layers[li], dd.d, rows*dd.cfg.NEmbd
	attn := func(out, in kernels.Buffer) error { return dd.attention(li, out, in, base, pos, rows, keys) }
	if dd.cfg.Arch == "gpt1" { // post-LN: x = LN1(x + attn(x)); x = LN2(x + mlp(x))
		return firstErr(
			func() error { return attn(h, x) },
			func() error { return d.AddInPlace(h, x, n) },
			func() error { return dd.layerNorm(x, h, l.ln1, rows) },
			func() error { return dd.mlp(l, h, x, rows) },
			func() error { return d.AddInPlace(h, x, n) },
			func() error { return dd.layerNorm(x, h, l.ln2, rows) })
	}
	// pre-LN: x += attn(LN1(x)); x += mlp(LN2(x))
	return firstErr(
		func() error { return dd.layerNorm(h, x, l.ln1, rows) },
		func() error { return attn(h, h) },
		func() error { return d.AddInPlace(x, h, n) },
		func() error { return dd.layerNorm(h, x, l.ln2, rows) },
		func() error { return dd.mlp(l, h, h, rows) },
		func() error { return d.AddInPlace(x, h, n) })
}

// head returns the logits (n, V) of the n rows of x (rows, C) that last
// names, after the final LayerNorm of a pre-LN model: the product with
// wte, to which the LM head is tied.
func (dd *DeviceDecoder) head(x, last kernels.Buffer, rows, n int) ([]float32, error) {
	C, V, d := dd.cfg.NEmbd, dd.V, dd.d
	final := dd.last.Slice(0, n*C)
	if err := d.GatherRowsForward(final, x, last, rows, n, 1, C); err != nil {
		return nil, err
	}
	if dd.cfg.Arch == "gpt2" {
		if err := dd.layerNorm(dd.final, final, dd.lnf, n); err != nil {
			return nil, err
		}
		final = dd.final.Slice(0, n*C)
	}
	if err := d.Sgemm(false, true, n, V, C, 1, final, C, dd.wte, C, 0, dd.logits, V); err != nil {
		return nil, err
	}
	out := dd.out[:n*V]
	return out, d.Download(out, dd.logits)
}

// firstErr runs fs in order up to the first that fails.
func firstErr(fs ...func() error) error {
	for _, f := range fs {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// attention writes to out (rows, C) the attention sublayer of layer li on
// in: the new tokens' keys and values join their slots' caches, then each
// token attends to its slot's cache up to itself (keys: the most any
// token sees). out may be in.
func (dd *DeviceDecoder) attention(li int, out, in, base, pos kernels.Buffer, rows, keys int) error {
	C, d := dd.cfg.NEmbd, dd.d
	l := &dd.layers[li]
	cache := len(dd.n) * dd.cfg.NCtx * C
	k, v := dd.k.Slice(li*cache, cache), dd.v.Slice(li*cache, cache)
	qkv, y := dd.qkv.Slice(0, rows*3*C), dd.y.Slice(0, rows*C)
	return firstErr(
		func() error { return d.LinearForward(qkv, in, l.attn[0], l.attn[1], rows, C, 3*C, false) },
		func() error { return d.DecodeKVStore(k, v, qkv, base, pos, rows, C) },
		func() error { return d.DecodeAttention(y, qkv, k, v, base, pos, rows, C, dd.cfg.NHead, keys) },
		func() error { return d.LinearForward(out, y, l.attnProj[0], l.attnProj[1], rows, C, C, false) })
}

// mlp writes to out (n, C) the MLP sublayer of l on in. out may be in.
func (dd *DeviceDecoder) mlp(l *deviceDecoderLayer, out, in kernels.Buffer, n int) error {
	C, d := dd.cfg.NEmbd, dd.d
	u, g := dd.u.Slice(0, n*4*C), dd.g.Slice(0, n*4*C)
	return firstErr(
		func() error { return d.LinearForward(u, in, l.fc[0], l.fc[1], n, C, 4*C, false) },
		func() error { return d.GELUForward(g, u, n*4*C, dd.cfg.GELU == "erf") },
		func() error { return d.LinearForward(out, g, l.mlpProj[0], l.mlpProj[1], n, 4*C, C, false) })
}

// layerNorm writes LN(x) to y, n rows; y is not x.
func (dd *DeviceDecoder) layerNorm(y, x kernels.Buffer, wb [2]kernels.Buffer, n int) error {
	return dd.d.LayerNormForward(y, dd.mean, dd.rs, x, wb[0], wb[1], n, dd.cfg.NEmbd, dd.cfg.LNEps)
}

// grow makes the scratch hold n tokens: the buffers are reallocated,
// larger, when a step has more tokens than any before it.
func (dd *DeviceDecoder) grow(n int) error {
	if n <= dd.rows {
		return nil
	}
	if err := dd.d.Sync(); err != nil { // the old buffers may still be in use
		return err
	}
	var keep []kernels.Buffer
	var errs []error
	old := []kernels.Buffer{dd.x, dd.h, dd.qkv, dd.y, dd.u, dd.g, dd.mean, dd.rs, dd.meta}
	for _, b := range dd.bufs {
		if !slices.Contains(old, b) {
			keep = append(keep, b)
		} else {
			errs = append(errs, dd.d.Free(b))
		}
	}
	dd.bufs, dd.rows = keep, 0
	if err := errors.Join(errs...); err != nil {
		return err
	}
	C, slots := dd.cfg.NEmbd, len(dd.n)
	var err error
	for _, f := range []struct {
		b *kernels.Buffer
		n int
	}{{&dd.x, n * C}, {&dd.h, n * C}, {&dd.qkv, n * 3 * C}, {&dd.y, n * C}, {&dd.u, n * 4 * C}, {&dd.g, n * 4 * C},
		{&dd.mean, max(n, slots)}, {&dd.rs, max(n, slots)}, {&dd.meta, 3*n + slots}} {
		if *f.b, err = dd.alloc(f.n); err != nil {
			return err
		}
	}
	dd.host = make([]int32, 3*n+slots)
	dd.rows = n
	return nil
}
