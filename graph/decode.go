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

	"gptctl/kernels"
)

// Decoder is an incremental forward pass over p with a key/value cache of
// up to n_ctx tokens. It is not safe for concurrent use.
type Decoder struct {
	cfg    Config
	layers []decoderLayer
	wte    []float32    // (V, C): the embedding and the tied LM head
	wpe    []float32    // (n_ctx, C)
	lnf    [2][]float32 // gpt2's final LayerNorm
	n      int          // tokens in the cache

	rows               int // tokens the scratch below holds
	x, h, qkv, y, u, g []float32
	mean, rstd, logits []float32
}

type decoderLayer struct {
	ln1, ln2, attn, attnProj, fc, mlpProj [2][]float32 // weight, bias
	k, v                                  []float32    // (n_ctx, C) cache
}

// NewDecoder returns an empty decoder over p's weights (shared, not copied:
// changing p changes the model).
func NewDecoder(p *Params) (*Decoder, error) {
	cfg := p.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
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
	d := &Decoder{cfg: cfg}
	var err error
	wte, wpe := EmbeddingNames(cfg.Arch)
	if d.wte, err = get(wte); err != nil {
		return nil, err
	}
	if d.wpe, err = get(wpe); err != nil {
		return nil, err
	}
	if cfg.Arch == "gpt2" {
		if d.lnf, err = pair("ln_f."); err != nil {
			return nil, err
		}
	}
	C := cfg.NEmbd
	for i := range cfg.NLayer {
		h := fmt.Sprintf("h.%d.", i)
		var l decoderLayer
		for _, f := range []struct {
			dst  *[2][]float32
			name string
		}{{&l.ln1, "ln_1."}, {&l.ln2, "ln_2."}, {&l.attn, "attn.c_attn."}, {&l.attnProj, "attn.c_proj."}, {&l.fc, "mlp.c_fc."}, {&l.mlpProj, "mlp.c_proj."}} {
			if *f.dst, err = pair(h + f.name); err != nil {
				return nil, err
			}
		}
		l.k, l.v = make([]float32, cfg.NCtx*C), make([]float32, cfg.NCtx*C)
		d.layers = append(d.layers, l)
	}
	d.logits = make([]float32, len(d.wte)/C)
	return d, nil
}

// Context is the most tokens the cache holds: the model's n_ctx.
func (d *Decoder) Context() int { return d.cfg.NCtx }

// Len is the number of tokens in the cache.
func (d *Decoder) Len() int { return d.n }

// Reset empties the cache.
func (d *Decoder) Reset() { d.n = 0 }

// Append runs ids as the tokens at positions Len()..Len()+len(ids)-1 and
// returns the logits that follow the last of them (one per embedding row),
// valid until the next call. The cache holds at most n_ctx tokens.
func (d *Decoder) Append(ids []int) ([]float32, error) {
	cfg := d.cfg
	C, n, pos := cfg.NEmbd, len(ids), d.n
	V := len(d.wte) / C
	switch {
	case n == 0:
		return nil, fmt.Errorf("graph: decoder: no tokens to append")
	case pos+n > cfg.NCtx:
		return nil, fmt.Errorf("graph: decoder: %d tokens after %d exceed the context %d", n, pos, cfg.NCtx)
	}
	d.grow(n)
	x := d.x[:n*C]
	for i, id := range ids {
		if id < 0 || id >= V {
			return nil, fmt.Errorf("graph: decoder: token id %d is outside the vocabulary of %d", id, V)
		}
		row, te, pe := x[i*C:(i+1)*C], d.wte[id*C:(id+1)*C], d.wpe[(pos+i)*C:(pos+i+1)*C]
		for j := range row {
			row[j] = te[j] + pe[j]
		}
	}
	h := d.h[:n*C]
	for li := range d.layers {
		l := &d.layers[li]
		if cfg.Arch == "gpt1" { // post-LN: x = LN1(x + attn(x)); x = LN2(x + mlp(x))
			d.attention(l, h, x, n, pos)
			kernels.AddInto(x, x, h)
			d.layerNorm(x, x, l.ln1, n)
			d.mlp(l, h, x, n)
			kernels.AddInto(x, x, h)
			d.layerNorm(x, x, l.ln2, n)
		} else { // pre-LN: x += attn(LN1(x)); x += mlp(LN2(x))
			d.layerNorm(h, x, l.ln1, n)
			d.attention(l, h, h, n, pos)
			kernels.AddInto(x, x, h)
			d.layerNorm(h, x, l.ln2, n)
			d.mlp(l, h, h, n)
			kernels.AddInto(x, x, h)
		}
	}
	d.n += n
	last := x[(n-1)*C:]
	if cfg.Arch == "gpt2" {
		d.layerNorm(last, last, d.lnf, 1)
	}
	kernels.Sgemm(false, true, 1, V, C, 1, last, C, d.wte, C, 0, d.logits, V)
	return d.logits, nil
}

// attention writes to out (n, C) the attention sublayer of l on in (n, C):
// the tokens' keys and values join the cache at pos. out may be in.
func (d *Decoder) attention(l *decoderLayer, out, in []float32, n, pos int) {
	C := d.cfg.NEmbd
	qkv, y := d.qkv[:n*3*C], d.y[:n*C]
	kernels.LinearForward(qkv, in, l.attn[0], l.attn[1], n, C, 3*C, false)
	for i := range n {
		copy(l.k[(pos+i)*C:(pos+i+1)*C], qkv[i*3*C+C:i*3*C+2*C])
		copy(l.v[(pos+i)*C:(pos+i+1)*C], qkv[i*3*C+2*C:(i+1)*3*C])
	}
	kernels.AttentionCached(y, qkv, 3*C, l.k, l.v, C, n, pos, C, d.cfg.NHead)
	kernels.LinearForward(out, y, l.attnProj[0], l.attnProj[1], n, C, C, false)
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

// grow makes the scratch hold n tokens.
func (d *Decoder) grow(n int) {
	if n <= d.rows {
		return
	}
	C := d.cfg.NEmbd
	d.rows = n
	d.x, d.h, d.y = make([]float32, n*C), make([]float32, n*C), make([]float32, n*C)
	d.qkv = make([]float32, n*3*C)
	d.u, d.g = make([]float32, n*4*C), make([]float32, n*4*C)
	d.mean, d.rstd = make([]float32, n), make([]float32, n)
}
