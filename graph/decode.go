package graph

// Decoder runs a model for sampling: tokens go in one at a time (or a prompt
// at once) and each layer keeps the keys and values of the tokens it has seen,
// so the next token costs one pass over the weights, not a forward over the
// whole window. A Gorgonia graph has fixed shapes, and a window that grows by
// one token per step would be rebuilt or recomputed each time; the decoder is
// the same model written out over the same Params and the same CPU kernels
// (LayerNorm, GELU, Sgemm, causal attention against the cache), and its
// logits equal the graph's (TestDecoderMatchesGraph). Inference only: no
// dropout, no gradients.

import (
	"fmt"
	"slices"

	"gptctl/kernels"
)

// Decoder is an incremental forward pass over p with key/value caches of
// up to n_ctx tokens, one for each of its slots: several sequences
// (samples, prompts) advance together, each token of a step one row of the
// same matrix products, so the weights are read once for all of them. It
// is not safe for concurrent use.
type Decoder struct {
	cfg Config
	decoderWeights
	slots []decoderSlot

	rows               int // tokens the scratch below holds
	x, h, qkv, y, u, g []float32
	mean, rstd         []float32
	last, logits       []float32 // (segments, C), (segments, V)
}

// decoderSlot is one sequence's cache: each layer's keys and values,
// (n_ctx, C), allocated at the slot's first use.
type decoderSlot struct {
	k, v [][]float32
	n    int // tokens in the cache
}

// NewDecoder returns an empty decoder of one slot over p's weights
// (shared, not copied: changing p changes the model).
func NewDecoder(p *Params) (*Decoder, error) { return NewDecoderSlots(p, 1) }

// NewDecoderSlots returns an empty decoder of the given number of slots
// over p's weights. A slot's cache takes 2 * n_layer * n_ctx * n_embd
// floats once used.
func NewDecoderSlots(p *Params, slots int) (*Decoder, error) {
	w, err := decoderWeightsOf(p, slots)
	if err != nil {
		return nil, err
	}
	return &Decoder{cfg: p.Config, decoderWeights: w, slots: make([]decoderSlot, slots)}, nil
}

// decoderWeights are the weights a decoder reads, p's own slices.
type decoderWeights struct {
	layers []decoderLayer
	wte    []float32    // (V, C): the embedding and the tied LM head
	wpe    []float32    // (n_ctx, C)
	lnf    [2][]float32 // gpt2's final LayerNorm
}

type decoderLayer struct {
	ln1, ln2, attn, attnProj, fc, mlpProj [2][]float32 // weight, bias
}

// decoderWeightsOf checks p's config and the slots asked for and returns
// p's weights by their role.
func decoderWeightsOf(p *Params, slots int) (w decoderWeights, err error) {
	cfg := p.Config
	if err := cfg.Validate(); err != nil {
		return w, err
	}
	if slots < 1 {
		return w, fmt.Errorf("graph: decoder: %d slots, want at least 1", slots)
	}
	get := func(name string) ([]float32, error) {
		w := p.Get(name)
		if w == nil {
			return nil, fmt.Errorf("graph: decoder: the model has no weight %q", name)
		}
		return w.Data, nil
	}
	pair := func(prefix string) (wb [2][]float32, err error) {
		if wb[0], err = get(prefix + "weight"); err != nil {
			return wb, err
		}
		wb[1], err = get(prefix + "bias")
		return wb, err
	}
	wte, wpe := EmbeddingNames(cfg.Arch)
	if w.wte, err = get(wte); err != nil {
		return w, err
	}
	if w.wpe, err = get(wpe); err != nil {
		return w, err
	}
	if cfg.Arch == "gpt2" {
		if w.lnf, err = pair("ln_f."); err != nil {
			return w, err
		}
	}
	for i := range cfg.NLayer {
		h := fmt.Sprintf("h.%d.", i)
		var l decoderLayer
		for _, f := range []struct {
			dst  *[2][]float32
			name string
		}{{&l.ln1, "ln_1."}, {&l.ln2, "ln_2."}, {&l.attn, "attn.c_attn."}, {&l.attnProj, "attn.c_proj."}, {&l.fc, "mlp.c_fc."}, {&l.mlpProj, "mlp.c_proj."}} {
			if *f.dst, err = pair(h + f.name); err != nil {
				return w, err
			}
		}
		w.layers = append(w.layers, l)
	}
	return w, nil
}

// Context is the most tokens a slot's cache holds: the model's n_ctx.
func (d *Decoder) Context() int { return d.cfg.NCtx }

// Slots is the number of sequences the decoder keeps.
func (d *Decoder) Slots() int { return len(d.slots) }

// Len is the number of tokens in slot's cache.
func (d *Decoder) Len(slot int) int { return d.slots[slot].n }

// Reset empties slot's cache.
func (d *Decoder) Reset(slot int) { d.slots[slot].n = 0 }

// Append runs ids as the tokens at positions Len(slot)..Len(slot)+len(ids)-1
// of slot and returns the logits that follow the last of them (one per
// embedding row), valid until the next call.
func (d *Decoder) Append(slot int, ids []int) ([]float32, error) {
	return d.Feed([]int{slot}, [][]int{ids})
}

// Feed appends ids[i] to slot slots[i], for every i at once (a slot at
// most once), and returns the logits that follow the last token of each,
// row i of a (len(slots), V) matrix valid until the next call. A slot's
// cache holds at most n_ctx tokens.
func (d *Decoder) Feed(slots []int, ids [][]int) ([]float32, error) {
	cfg := d.cfg
	C, V := cfg.NEmbd, len(d.wte)/cfg.NEmbd
	rows, err := d.check(slots, ids)
	if err != nil {
		return nil, err
	}
	d.grow(rows, len(slots))
	x, h := d.x[:rows*C], d.h[:rows*C]
	d.embed(x, slots, ids)
	for li := range d.layers {
		l := &d.layers[li]
		if cfg.Arch == "gpt1" { // post-LN: x = LN1(x + attn(x)); x = LN2(x + mlp(x))
			d.attention(li, slots, ids, h, x, rows)
			kernels.AddInto(x, x, h)
			d.layerNorm(x, x, l.ln1, rows)
			d.mlp(l, h, x, rows)
			kernels.AddInto(x, x, h)
			d.layerNorm(x, x, l.ln2, rows)
		} else { // pre-LN: x += attn(LN1(x)); x += mlp(LN2(x))
			d.layerNorm(h, x, l.ln1, rows)
			d.attention(li, slots, ids, h, h, rows)
			kernels.AddInto(x, x, h)
			d.layerNorm(h, x, l.ln2, rows)
			d.mlp(l, h, h, rows)
			kernels.AddInto(x, x, h)
		}
	}
	n := len(slots)
	last, r := d.last[:n*C], 0
	for i, s := range slots { // the row of each list's last token
		r += len(ids[i])
		copy(last[i*C:(i+1)*C], x[(r-1)*C:r*C])
		d.slots[s].n += len(ids[i])
	}
	if cfg.Arch == "gpt2" {
		d.layerNorm(last, last, d.lnf, n)
	}
	logits := d.logits[:n*V]
	kernels.Sgemm(false, true, n, V, C, 1, last, C, d.wte, C, 0, logits, V) // (n, V), tied to wte
	return logits, nil
}

// check returns how many tokens ids holds in all, or what is wrong with
// feeding them to slots.
func (d *Decoder) check(slots []int, ids [][]int) (rows int, err error) {
	return checkFeed(d.cfg, len(d.wte)/d.cfg.NEmbd, len(d.slots), d.Len, slots, ids)
}

// checkFeed returns how many tokens ids holds in all, or what is wrong with
// feeding them to slots of a decoder of nslots slots over a model of cfg
// with V token ids, holding cached(s) tokens in slot s.
func checkFeed(cfg Config, V, nslots int, cached func(int) int, slots []int, ids [][]int) (rows int, err error) {
	if len(slots) != len(ids) || len(slots) == 0 {
		return 0, fmt.Errorf("graph: decoder: %d slots for %d token lists", len(slots), len(ids))
	}
	for i, s := range slots {
		switch {
		case s < 0 || s >= nslots:
			return 0, fmt.Errorf("graph: decoder: slot %d of %d", s, nslots)
		case slices.Contains(slots[:i], s):
			return 0, fmt.Errorf("graph: decoder: slot %d fed twice in one step", s)
		case len(ids[i]) == 0:
			return 0, fmt.Errorf("graph: decoder: no tokens to append")
		case cached(s)+len(ids[i]) > cfg.NCtx:
			return 0, fmt.Errorf("graph: decoder: %d tokens after %d exceed the context %d", len(ids[i]), cached(s), cfg.NCtx)
		}
		for _, id := range ids[i] {
			if id < 0 || id >= V {
				return 0, fmt.Errorf("graph: decoder: token id %d is outside the vocabulary of %d", id, V)
			}
		}
		rows += len(ids[i])
	}
	return rows, nil
}

// embed writes to x (rows, C) the token and position embeddings of ids[i]
// at the positions after slots[i]'s cache, one list after another, and
// gives a slot its cache at its first use.
func (d *Decoder) embed(x []float32, slots []int, ids [][]int) {
	C, r := d.cfg.NEmbd, 0
	for i, s := range slots {
		pos := d.slots[s].n
		for j, id := range ids[i] {
			row, te, pe := x[r*C:(r+1)*C], d.wte[id*C:(id+1)*C], d.wpe[(pos+j)*C:(pos+j+1)*C]
			for c := range row {
				row[c] = te[c] + pe[c]
			}
			r++
		}
		if sl := &d.slots[s]; sl.k == nil {
			sl.k, sl.v = make([][]float32, d.cfg.NLayer), make([][]float32, d.cfg.NLayer)
			for li := range sl.k {
				sl.k[li], sl.v[li] = make([]float32, d.cfg.NCtx*C), make([]float32, d.cfg.NCtx*C)
			}
		}
	}
}

// attention writes to out (rows, C) the attention sublayer of layer li on
// in (rows, C), the tokens of ids[i] for slots[i] one after another: each
// list's keys and values join its slot's cache after the tokens there, and
// its queries see those alone. out may be in.
func (d *Decoder) attention(li int, slots []int, ids [][]int, out, in []float32, rows int) {
	C := d.cfg.NEmbd
	l := &d.layers[li]
	qkv, y := d.qkv[:rows*3*C], d.y[:rows*C]
	kernels.LinearForward(qkv, in, l.attn[0], l.attn[1], rows, C, 3*C, false)
	r := 0
	for i, s := range slots {
		n, pos := len(ids[i]), d.slots[s].n
		k, v := d.slots[s].k[li], d.slots[s].v[li]
		for j := range n {
			row := qkv[(r+j)*3*C:]
			copy(k[(pos+j)*C:(pos+j+1)*C], row[C:2*C])
			copy(v[(pos+j)*C:(pos+j+1)*C], row[2*C:3*C])
		}
		kernels.AttentionCached(y[r*C:], qkv[r*3*C:], 3*C, k, v, C, n, pos, C, d.cfg.NHead)
		r += n
	}
	kernels.LinearForward(out, y, l.attnProj[0], l.attnProj[1], rows, C, C, false)
}

// mlp writes to out (n, C) the MLP sublayer of l on in (n, C). out may be in.
func (d *Decoder) mlp(l *decoderLayer, out, in []float32, n int) {
	C := d.cfg.NEmbd
	u, g := d.u[:n*4*C], d.g[:n*4*C]
	kernels.LinearForward(u, in, l.fc[0], l.fc[1], n, C, 4*C, false)
	if d.cfg.GELU == "erf" {
		kernels.GELUErfForward(g, u)
	} else {
		kernels.GELUForward(g, u)
	}
	kernels.LinearForward(out, g, l.mlpProj[0], l.mlpProj[1], n, 4*C, C, false)
}

func (d *Decoder) layerNorm(y, x []float32, wb [2][]float32, n int) {
	kernels.LayerNormForward(y, d.mean[:n], d.rstd[:n], x, wb[0], wb[1], n, d.cfg.NEmbd, d.cfg.LNEps)
}

// grow makes the scratch hold n tokens of segs token lists.
func (d *Decoder) grow(n, segs int) {
	C, V := d.cfg.NEmbd, len(d.wte)/d.cfg.NEmbd
	if segs*C > len(d.last) {
		d.last, d.logits = make([]float32, segs*C), make([]float32, segs*V)
	}
	if n <= d.rows {
		return
	}
	d.rows = n
	d.x, d.h, d.y = make([]float32, n*C), make([]float32, n*C), make([]float32, n*C)
	d.qkv = make([]float32, n*3*C)
	d.u, d.g = make([]float32, n*4*C), make([]float32, n*4*C)
	d.mean, d.rstd = make([]float32, n), make([]float32, n)
}
