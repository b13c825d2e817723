package graph

import (
	"errors"
	"fmt"
)

// Config is the architecture of a GPT model.
type Config struct {
	Arch      string  `yaml:"arch" json:"arch"`             // "gpt1" (post-LN) or "gpt2" (pre-LN with a final LayerNorm)
	VocabSize int     `yaml:"vocab_size" json:"vocab_size"` // embedding rows; 0 = from the tokenizer
	NCtx      int     `yaml:"n_ctx" json:"n_ctx"`           // context length (position embeddings)
	NEmbd     int     `yaml:"n_embd" json:"n_embd"`         // model width C
	NHead     int     `yaml:"n_head" json:"n_head"`
	NLayer    int     `yaml:"n_layer" json:"n_layer"`
	Dropout   float32 `yaml:"dropout" json:"dropout"` // embedding, attention and residual dropout
	LNEps     float32 `yaml:"layer_norm_epsilon" json:"layer_norm_epsilon"`
	// GELU is the MLP's activation: "tanh" (or "", the default; GPT-1 and
	// GPT-2's gelu_new) or "erf", the exact x*Phi(x) of Hugging Face's
	// activation_function "gelu", which some GPT-2 checkpoints use.
	GELU string `yaml:"gelu" json:"gelu,omitempty"`
}

// Validate reports every problem of the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.Arch != "gpt1" && c.Arch != "gpt2" {
		errs = append(errs, fmt.Errorf("arch %q is not gpt1 or gpt2", c.Arch))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"n_ctx", c.NCtx}, {"n_embd", c.NEmbd}, {"n_head", c.NHead}, {"n_layer", c.NLayer}} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %d must be positive", f.name, f.v))
		}
	}
	if c.VocabSize < 0 {
		errs = append(errs, fmt.Errorf("vocab_size %d must not be negative", c.VocabSize))
	}
	if c.NHead > 0 && c.NEmbd%c.NHead != 0 {
		errs = append(errs, fmt.Errorf("n_embd %d is not divisible by n_head %d", c.NEmbd, c.NHead))
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		errs = append(errs, fmt.Errorf("dropout %v is not in [0, 1)", c.Dropout))
	}
	if c.LNEps <= 0 {
		errs = append(errs, fmt.Errorf("layer_norm_epsilon %v must be positive", c.LNEps))
	}
	switch {
	case c.GELU != "" && c.GELU != "tanh" && c.GELU != "erf":
		errs = append(errs, fmt.Errorf("gelu %q is not tanh or erf", c.GELU))
	case c.GELU == "erf" && c.Arch == "gpt1":
		errs = append(errs, fmt.Errorf("gelu erf needs arch gpt2 (an openai-gpt checkpoint has only the tanh GELU)"))
	}
	return errors.Join(errs...)
}

// NumParams is the number of weights of the model.
func (c Config) NumParams() int { return int(c.paramCount()) }

// paramCount is the number of weights in floating point, which no shape
// overflows (memory checks take it for configs far too large to build).
func (c Config) paramCount() float64 {
	C, L := float64(c.NEmbd), float64(c.NLayer)
	n := float64(c.VocabSize)*C + float64(c.NCtx)*C + L*(2*C+C*3*C+3*C+C*C+C+2*C+C*4*C+4*C+4*C*C+C)
	if c.Arch == "gpt2" {
		n += 2 * C
	}
	return n
}
