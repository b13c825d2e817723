package graph

// Growing a pretrained model for finetuning: new token embeddings (the task
// tokens <s>, $ and <e>) and the task head's weights, both added to the same
// Params so one optimizer and one checkpoint cover everything.

import (
	"fmt"
	"strings"
)

// Names of the task head's weights: a Linear (C, k) in the Conv1D layout.
const (
	HeadWeight = "clf.weight"
	HeadBias   = "clf.bias"
)

// IsHead reports whether the weight called name belongs to the task head.
func IsHead(name string) bool { return strings.HasPrefix(name, "clf.") }

// AddTokens appends n rows to the token embedding, each drawn N(0, 0.02)
// from rng as NewParams draws the others, and returns the id of the first.
// The position embeddings are untouched.
func (p *Params) AddTokens(n int, rng *RNG) (first int, err error) {
	if n <= 0 {
		return 0, fmt.Errorf("add tokens: n %d must be positive", n)
	}
	wteName, _ := EmbeddingNames(p.Config.Arch)
	wte := p.byName[wteName]
	if wte == nil || len(wte.Shape) != 2 {
		return 0, fmt.Errorf("add tokens: the model has no token embedding %q", wteName)
	}
	first, C := wte.Shape[0], wte.Shape[1]
	grown := make([]float32, (first+n)*C)
	copy(grown, wte.Data)
	for i := first * C; i < len(grown); i++ {
		grown[i] = float32(rng.NormFloat64() * 0.02)
	}
	wte.Data, wte.Shape = grown, []int{first + n, C}
	p.Config.VocabSize = first + n
	return first, nil
}

// AddHead adds the task head clf.weight (C, k), drawn N(0, 0.02) from rng,
// and clf.bias (k), zero. With rng nil the weight is zero too (to be loaded).
func (p *Params) AddHead(k int, rng *RNG) error {
	if k <= 0 {
		return fmt.Errorf("add head: %d outputs; want at least 1", k)
	}
	if p.byName[HeadWeight] != nil {
		return fmt.Errorf("add head: the model already has %s", HeadWeight)
	}
	p.add(HeadWeight, rng, 0.02, p.Config.NEmbd, k)
	p.add(HeadBias, nil, 0, k)
	return nil
}

// HeadOutputs is the number of outputs of the task head, 0 without one.
func (p *Params) HeadOutputs() int {
	if w := p.byName[HeadWeight]; w != nil {
		return w.Shape[1]
	}
	return 0
}
