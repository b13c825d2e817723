package train

// gptctl generate: sampling with temperature, top-k and top-p (nucleus).

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"

	"gptctl/graph"
	"gptctl/kernels"
)

// GenerateOptions controls sampling.
type GenerateOptions struct {
	Prompt       string
	MaxNewTokens int
	Temperature  float64 // 0 = greedy
	TopK         int     // 0 = no limit
	TopP         float64 // 1 = no limit
	Seed         uint64
}

// Validate checks the sampling options.
func (o GenerateOptions) Validate() error {
	switch {
	case o.MaxNewTokens < 0:
		return &ConfigError{fmt.Errorf("--max-new-tokens %d must not be negative", o.MaxNewTokens)}
	case o.Temperature < 0:
		return &ConfigError{fmt.Errorf("--temperature %v must not be negative", o.Temperature)}
	case o.TopK < 0:
		return &ConfigError{fmt.Errorf("--top-k %d must not be negative", o.TopK)}
	case o.TopP <= 0 || o.TopP > 1:
		return &ConfigError{fmt.Errorf("--top-p %v is not in (0, 1]", o.TopP)}
	}
	return nil
}

// Generate writes the prompt and then each sampled piece of text to w as it
// is produced.
func Generate(modelDir string, o GenerateOptions, w io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	p, tok, err := LoadModel(modelDir)
	if err != nil {
		return &InputError{err}
	}
	if tok == nil {
		return inputErrorf("model %s has no tokenizer files, so text cannot be generated", modelDir)
	}
	ids := tok.Encode(o.Prompt)
	if len(ids) == 0 {
		ids = []int{startToken(tok)}
	}
	T := p.Config.NCtx
	m, err := graph.New(p, 1, T, &kernels.Mode{}, kernels.NewRNG(0))
	if err != nil {
		return err
	}
	prog, err := m.Forward(m.Logits)
	if err != nil {
		return err
	}
	fmt.Fprint(w, o.Prompt)
	rng := rand.New(rand.NewPCG(o.Seed, 0x6e6))
	V := p.Config.VocabSize
	probs := make([]float64, V)
	in := graph.Int32Data(m.Idx)
	for n := 0; n < o.MaxNewTokens; n++ {
		window := ids
		if len(window) > T {
			window = window[len(window)-T:]
		}
		clear(in)
		for i, id := range window {
			in[i] = int32(id)
		}
		if err := m.Run(prog); err != nil {
			return err
		}
		logits := kernels.Floats(m.Machine().Value(m.Logits))[(len(window)-1)*V : len(window)*V]
		next := sample(logits[:tok.VocabSize()], probs[:tok.VocabSize()], o, rng)
		ids = append(ids, next)
		fmt.Fprint(w, tok.Decode([]int{next}))
	}
	fmt.Fprintln(w)
	return nil
}

// startToken is where an empty prompt starts: the end-of-text token, else a
// newline, else id 0.
func startToken(tok interface {
	EOT() int
	Encode(string) []int
}) int {
	if e := tok.EOT(); e >= 0 {
		return e
	}
	if nl := tok.Encode("\n"); len(nl) == 1 {
		return nl[0]
	}
	return 0
}

// sample draws an id from logits under temperature, top-k and top-p.
func sample(logits []float32, probs []float64, o GenerateOptions, rng *rand.Rand) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if o.Temperature == 0 {
		return best
	}
	mx := float64(logits[best])
	order := make([]int, len(logits))
	var sum float64
	for i, v := range logits {
		probs[i] = math.Exp((float64(v) - mx) / o.Temperature)
		sum += probs[i]
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
	keep := len(order)
	if o.TopK > 0 && o.TopK < keep {
		keep = o.TopK
	}
	if o.TopP < 1 {
		var c float64
		for i := 0; i < keep; i++ {
			c += probs[order[i]] / sum
			if c >= o.TopP {
				keep = i + 1
				break
			}
		}
	}
	var total float64
	for _, id := range order[:keep] {
		total += probs[id]
	}
	u := rng.Float64() * total
	for _, id := range order[:keep] {
		u -= probs[id]
		if u <= 0 {
			return id
		}
	}
	return order[keep-1]
}
