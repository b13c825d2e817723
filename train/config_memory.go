package train

// Whether a model fits in the memory of the machine that trains it or
// reads with it on the CPU: estimates of a step's and a forward pass's
// memory, and the refusal of the hopeless.

import (
	"fmt"
	"io"

	"gptctl/graph"
)

// fitsTraining refuses, on the CPU, a model and batch that cannot fit in
// twice the machine's memory and swap: 16 bytes a parameter (weights,
// gradients, AdamW's two moments) and a step's activations with their
// gradients, about 20 C + 2 H T floats a token a layer (measured: 40k
// for C=768, H=12, T=1024) and one of vocab_size for the logits (their
// softmax and their gradient are written over them). Twice,
// so that only the hopeless is refused (what passes may still not fit,
// and gets a note on log where it needs more than once); a GPU keeps all of
// it in its own memory.
func (c Config) fitsTraining(log io.Writer) error {
	return fitsTraining(c.Config, c.BatchSize, []int{c.T()}, fmt.Sprintf("training with batch_size %d and seq_len %d", c.BatchSize, c.T()), log)
}

// fitsTraining is Config.fitsTraining for a model m trained on batches of
// seqs sequences in graphs of each of the lengths lens (a finetune keeps
// one for each padded length, which share their activations and gradients,
// graph.SharedActivations and SharedGrads: the longest's is the need); what
// names the setting in the error.
func fitsTraining(m graph.Config, seqs int, lens []int, what string, log io.Writer) error {
	need := m.ParamBytes(16) + stepBytes(m, seqs, longestLen(lens))
	if err := m.FitsMemory(need, 2, what); err != nil {
		return err
	}
	if err := m.FitsMemory(need, 1, what); err != nil && log != nil {
		fmt.Fprintf(log, "note: %v: it may run out of memory as it goes\n", err)
	}
	return nil
}

// fitsInference refuses, on the CPU, forward passes of m over seqs
// sequences, in graphs of each of the lengths lens, that cannot fit in
// twice memory and swap: the weights, and the memory of the longest
// graph's forward pass (inferBytes), which the others share; logits says
// whether the logits are the pass's output.
func fitsInference(m graph.Config, seqs int, lens []int, logits bool, what string) error {
	return m.FitsMemory(m.ParamBytes(4)+inferBytes(m, seqs, longestLen(lens), logits), 2, what)
}

// inferBytes is the memory of a forward pass over seqs sequences of T
// tokens in a model built graph.ForwardOnly, whose activations share
// memory by lifetime: a token holds a row of one layer's attention
// probabilities (H T), the larger of its logits and a block's live
// activations (about 8 C), or both where the logits are the pass's output
// (logits: they keep a buffer of their own), two more rows of C, and a
// LayerNorm's mean and deviation a layer; the loss's softmax, if any, works
// in 32 rows of V (measured on GPT-2 124M shapes: 9,216 floats a token at T =
// 128 and V = 1,000, 13,824 at T = 512, as the formula says).
func inferBytes(m graph.Config, seqs, T int, logits bool) float64 {
	C, V, HT := float64(m.NEmbd), float64(m.VocabSize), float64(m.NHead)*float64(T)
	live, softmax := max(V, 8*C), 32*V
	if logits {
		live, softmax = V+8*C, 0
	}
	perToken := HT + live + 2*C + 4*float64(m.NLayer) + 2
	return 4 * (float64(seqs)*float64(T)*perToken + softmax)
}

// longestLen is the longest of lens; 0 for none.
func longestLen(lens []int) int {
	n := 0
	for _, T := range lens {
		n = max(n, T)
	}
	return n
}

// stepBytes is the memory of a training step's activations and their
// gradients over seqs sequences of T tokens (see Config.fitsTraining).
func stepBytes(m graph.Config, seqs, T int) float64 {
	tokens := float64(seqs) * float64(T)
	perToken := float64(m.NLayer)*(20*float64(m.NEmbd)+2*float64(m.NHead)*float64(T)) + float64(m.VocabSize) // the logits, their softmax and gradient in one
	return 4 * tokens * perToken
}
