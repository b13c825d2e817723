package kernels

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkDropout times the mask draw and the masked copies at the size of
// GPT-1's attention probabilities (B=4, 12 heads, T=128: B*H*T*T values).
func BenchmarkDropout(b *testing.B) {
	const n = 4 * 12 * 128 * 128
	r := rand.New(rand.NewPCG(1, 2))
	x := testRand(r, n, 1)
	op := &dropoutOp{p: 0.1, mode: &Mode{Training: true}, rng: NewRNG(1), mask: make([]float32, n)}
	grad := &dropoutGradOp{fwd: op}
	y := make([]float32, n)
	in := []G.Value{tensor.New(tensor.WithBacking(x))}
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(3 * n * 4)
		for b.Loop() {
			op.Forward(y, in)
		}
	})
	b.Run("backward", func(b *testing.B) {
		b.SetBytes(3 * n * 4)
		for b.Loop() {
			grad.Forward(y, in)
		}
	})
}
