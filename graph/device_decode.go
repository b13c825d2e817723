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
	defer func() {
		if err != nil {
			dd.Close()
		}
	}()
	up := func(x []float32) (kernels.Buffer, error) {
		b, err := dd.alloc(len(x))
		if err == nil {
			err = d.Upload(b, x)
		}
		return b, err
	}
	pair := func(wb [2][]float32) (out [2]kernels.Buffer, err error) {
		if out[0], err = up(wb[0]); err != nil {
			return out, err
		}
		out[1], err = up(wb[1])
		return out, err
	}
	if dd.wte, err = up(w.wte); err != nil {
		return nil, err
	}
	if dd.wpe, err = up(w.wpe); err != nil {
		return nil, err
	}
	if cfg.Arch == "gpt2" {
		if dd.lnf, err = pair(w.lnf); err != nil {
			return nil, err
		}
	}
	for _, l := range w.layers {
		var dl deviceDecoderLayer
		for _, f := range []struct {
			dst *[2]kernels.Buffer
			src [2][]float32
		}{{&dl.ln1, l.ln1}, {&dl.ln2, l.ln2}, {&dl.attn, l.attn}, {&dl.attnProj, l.attnProj}, {&dl.fc, l.fc}, {&dl.mlpProj, l.mlpProj}} {
			if *f.dst, err = pair(f.src); err != nil {
				return nil, err
			}
		}
		dd.layers = append(dd.layers, dl)
	}
	cache := cfg.NLayer * slots * cfg.NCtx * C
	if dd.k, err = dd.alloc(cache); err != nil {
		return nil, err
	}
	if dd.v, err = dd.alloc(cache); err != nil {
		return nil, err
	}
	for _, b := range []*kernels.Buffer{&dd.last, &dd.final} {
		if *b, err = dd.alloc(slots * C); err != nil {
			return nil, err
		}
	}
	if dd.logits, err = dd.alloc(slots * dd.V); err != nil {
		return nil, err
	}
	dd.out = make([]float32, slots*dd.V)
	return dd, nil
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
	cfg, d := dd.cfg, dd.d
	C, T := cfg.NEmbd, cfg.NCtx
	rows, err := checkFeed(cfg, dd.V, len(dd.n), dd.Len, slots, ids)
	if err != nil {
		return nil, err
	}
	if err := dd.grow(rows); err != nil {
		return nil, err
	}
	n := len(slots)
	// The step's int32s, uploaded in one copy: each token's id, position
	// and first cache row (its slot's), then each slot's last row.
	host := dd.host[:3*rows+n]
	idx, pos, base, last := host[:rows], host[rows:2*rows], host[2*rows:3*rows], host[3*rows:]
	r, keys := 0, 0
	for i, s := range slots {
		for j, id := range ids[i] {
			idx[r], pos[r], base[r] = int32(id), int32(dd.n[s]+j), int32(s*T)
			r++
		}
		last[i] = int32(r - 1)
		keys = max(keys, dd.n[s]+len(ids[i]))
	}
	meta := dd.meta
	if err := d.UploadInt32(meta, host); err != nil {
		return nil, err
	}
	gIdx, gPos, gBase, gLast := meta.Slice(0, rows), meta.Slice(rows, rows), meta.Slice(2*rows, rows), meta.Slice(3*rows, n)
	x, h := dd.x.Slice(0, rows*C), dd.h.Slice(0, rows*C)
	if err := d.DecodeEmbed(x, dd.wte, dd.wpe, gIdx, gPos, rows, C); err != nil {
		return nil, err
	}
	for li := range dd.layers {
		l := &dd.layers[li]
		attn := func(out, in kernels.Buffer) error {
			return dd.attention(li, out, in, gBase, gPos, rows, keys)
		}
		var err error
		if cfg.Arch == "gpt1" { // post-LN: x = LN1(x + attn(x)); x = LN2(x + mlp(x))
			err = firstErr(
				func() error { return attn(h, x) },
				func() error { return d.AddInPlace(h, x, rows*C) },
				func() error { return dd.layerNorm(x, h, l.ln1, rows) },
				func() error { return dd.mlp(l, h, x, rows) },
				func() error { return d.AddInPlace(h, x, rows*C) },
				func() error { return dd.layerNorm(x, h, l.ln2, rows) })
		} else { // pre-LN: x += attn(LN1(x)); x += mlp(LN2(x))
			err = firstErr(
				func() error { return dd.layerNorm(h, x, l.ln1, rows) },
				func() error { return attn(h, h) },
				func() error { return d.AddInPlace(x, h, rows*C) },
				func() error { return dd.layerNorm(h, x, l.ln2, rows) },
				func() error { return dd.mlp(l, h, h, rows) },
				func() error { return d.AddInPlace(x, h, rows*C) })
		}
		if err != nil {
			return nil, err
		}
	}
	final := dd.last.Slice(0, n*C)
	if err := d.GatherRowsForward(final, x, gLast, rows, n, 1, C); err != nil {
		return nil, err
	}
	if cfg.Arch == "gpt2" {
		if err := dd.layerNorm(dd.final, final, dd.lnf, n); err != nil {
			return nil, err
		}
		final = dd.final.Slice(0, n*C)
	}
	V := dd.V
	if err := d.Sgemm(false, true, n, V, C, 1, final, C, dd.wte, C, 0, dd.logits, V); err != nil { // tied to wte
		return nil, err
	}
	out := dd.out[:n*V]
	if err := d.Download(out, dd.logits); err != nil {
		return nil, err
	}
	for i, s := range slots {
		dd.n[s] += len(ids[i])
	}
	return out, nil
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
