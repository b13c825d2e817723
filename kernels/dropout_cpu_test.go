package kernels

import (
	"math/rand/v2"
	"slices"
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
	op := &dropoutOp{p: 0.1, mode: &Mode{Training: true}, rng: NewRNG(1)}
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

// A training pass draws one seed from the RNG and drops element i by
// hashKeep(p, seed, i), the mask dropout.cu makes from the same seed, so
// the CPU and the device drop the same elements from the same RNG state;
// the next pass draws the next seed, and the gradient applies the pass's
// own mask.
func TestDropoutDrawsHashMasks(t *testing.T) {
	const n, p = 1 << 17, 0.25 // several parallel chunks
	r := rand.New(rand.NewPCG(1, 2))
	x := testRand(r, n, 1)
	op := &dropoutOp{base: base{shape: tensor.Shape{n}}, p: p, mode: &Mode{Training: true}, rng: NewRNG(7)}
	grad := &dropoutGradOp{fwd: op}
	in := []G.Value{tensor.New(tensor.WithBacking(x))}
	seeds := NewRNG(7)
	y, dx := make([]float32, n), make([]float32, n)
	var first []float32
	for pass := range 2 {
		if err := op.Forward(y, in); err != nil {
			t.Fatal(err)
		}
		if err := grad.Forward(dx, in); err != nil {
			t.Fatal(err)
		}
		seed, dropped := seeds.Uint64(), 0
		for i := range x {
			want := x[i] * hashKeep(p, seed, uint64(i))
			if y[i] != want || dx[i] != want {
				t.Fatalf("pass %d, element %d: forward %v, backward %v, want %v", pass, i, y[i], dx[i], want)
			}
			if y[i] == 0 {
				dropped++
			}
		}
		if frac := float64(dropped) / n; frac < p-0.01 || frac > p+0.01 {
			t.Errorf("pass %d dropped %.4f of the elements, want %v", pass, frac, p)
		}
		if pass == 0 {
			first = slices.Clone(y)
		} else if slices.Equal(first, y) {
			t.Error("two training passes drew the same mask")
		}
	}
}

// keeper, hashKeep with its constants hoisted, drops the same elements as
// hashKeep for every p, those whose threshold p*2^24 is an integer too.
func TestKeeperIsHashKeep(t *testing.T) {
	for _, p := range []float32{1e-7, 0.1, 0.25, 0.3, 0.5, 1.0 / 3, 0.9, 0.999999, float32(1<<23+1) / (1 << 24)} {
		k := newKeeper(p)
		for i := range uint64(200000) {
			if got, want := k.at(42, i), hashKeep(p, 42, i); got != want {
				t.Fatalf("p %v, element %d: %v, hashKeep %v", p, i, got, want)
			}
		}
		// the elements at the threshold's edge: u = drop-1 drops, u = drop keeps
		if u := k.drop; float32(u-1)*(1.0/16777216) >= p || float32(u)*(1.0/16777216) < p {
			t.Errorf("p %v: threshold %d is not where u/2^24 < p changes", p, u)
		}
	}
}
