package graph

// Params are the weights of a model, held in Go memory under their Hugging
// Face checkpoint names. Graphs of any batch shape are built over the same
// Params, so training, evaluation and sampling share one set of weights.

import (
	"fmt"
	"math"
	"slices"

	"gptctl/kernels"
)

// Param is one named weight tensor.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
}

// Decay says whether AdamW applies weight decay: to matrices and embeddings,
// not to biases and LayerNorm weights.
func (p *Param) Decay() bool { return len(p.Shape) == 2 }

// Params is the ordered set of a model's weights.
type Params struct {
	Config Config
	List   []*Param
	byName map[string]*Param
}

// EmbeddingNames returns the token and position embedding names of an arch.
func EmbeddingNames(arch string) (wte, wpe string) {
	if arch == "gpt1" {
		return "tokens_embed.weight", "positions_embed.weight"
	}
	return "wte.weight", "wpe.weight"
}

// NewParams allocates the weights of cfg, initialised as GPT-2 does: normal
// (0, 0.02), residual projections scaled by 1/sqrt(2L), biases 0, LayerNorm
// weights 1. The draw is fixed by rng.
func NewParams(cfg Config, rng *RNG) (*Params, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.VocabSize <= 0 {
		return nil, fmt.Errorf("vocab_size %d must be positive", cfg.VocabSize)
	}
	if err := cfg.FitsMemory(cfg.ParamBytes(4), 1, "holding the model"); err != nil {
		return nil, err
	}
	p := &Params{Config: cfg, byName: map[string]*Param{}}
	C := cfg.NEmbd
	std := 0.02
	resid := std / math.Sqrt(2*float64(cfg.NLayer))
	wte, wpe := EmbeddingNames(cfg.Arch)
	p.add(wte, rng, std, cfg.VocabSize, C)
	p.add(wpe, rng, std, cfg.NCtx, C)
	for i := 0; i < cfg.NLayer; i++ {
		h := fmt.Sprintf("h.%d.", i)
		p.ones(h+"ln_1.weight", C)
		p.add(h+"ln_1.bias", nil, 0, C)
		p.add(h+"attn.c_attn.weight", rng, std, C, 3*C)
		p.add(h+"attn.c_attn.bias", nil, 0, 3*C)
		p.add(h+"attn.c_proj.weight", rng, resid, C, C)
		p.add(h+"attn.c_proj.bias", nil, 0, C)
		p.ones(h+"ln_2.weight", C)
		p.add(h+"ln_2.bias", nil, 0, C)
		p.add(h+"mlp.c_fc.weight", rng, std, C, 4*C)
		p.add(h+"mlp.c_fc.bias", nil, 0, 4*C)
		p.add(h+"mlp.c_proj.weight", rng, resid, 4*C, C)
		p.add(h+"mlp.c_proj.bias", nil, 0, C)
	}
	if cfg.Arch == "gpt2" {
		p.ones("ln_f.weight", C)
		p.add("ln_f.bias", nil, 0, C)
	}
	return p, nil
}

func (p *Params) add(name string, rng *kernels.RNG, std float64, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	w := &Param{Name: name, Shape: shape, Data: make([]float32, n)}
	if rng != nil {
		for i := range w.Data {
			w.Data[i] = float32(rng.NormFloat64() * std)
		}
	}
	p.List = append(p.List, w)
	p.byName[name] = w
	return w
}

func (p *Params) ones(name string, n int) {
	w := p.add(name, nil, 0, n)
	for i := range w.Data {
		w.Data[i] = 1
	}
}

// Get returns the weight called name, or nil.
func (p *Params) Get(name string) *Param { return p.byName[name] }

// Count is the total number of weights.
func (p *Params) Count() int {
	n := 0
	for _, w := range p.List {
		n += len(w.Data)
	}
	return n
}

// Load sets the weight called name, checking its shape and that every
// value is finite: fill writes the values into the slice it is given (a
// file's tensor, decoded in place with no copy between). On error the
// weight holds whatever fill wrote: for loading a model whose Params are
// dropped on failure.
func (p *Params) Load(name string, shape []int, fill func([]float32) error) error {
	w, err := p.settable(name, shape)
	if err != nil {
		return err
	}
	if err := fill(w.Data); err != nil {
		return err
	}
	return checkFinite(name, w.Data)
}

// settable returns the weight called name if it has the given shape.
func (p *Params) settable(name string, shape []int) (*Param, error) {
	w := p.byName[name]
	if w == nil {
		return nil, fmt.Errorf("unexpected weight %q", name)
	}
	if !slices.Equal(w.Shape, shape) {
		return nil, fmt.Errorf("weight %q has shape %v, the model needs %v", name, shape, w.Shape)
	}
	return w, nil
}

// checkFinite is an error naming the first NaN or infinity of weight name.
func checkFinite(name string, data []float32) error {
	for i, v := range data {
		if v-v != 0 { // NaN or ±Inf
			return fmt.Errorf("weight %q holds %v (element %d): the weights are not finite (was the run that wrote them stopped by a non-finite loss?)", name, v, i)
		}
	}
	return nil
}
