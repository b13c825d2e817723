package kernels

// RNG is the one random source of a model's graph (dropout masks). Its state
// is saved in checkpoints, so a resumed run draws the same masks.

import (
	"math/rand/v2"
)

// RNG wraps a PCG generator whose state can be saved and restored.
type RNG struct {
	pcg *rand.PCG
	r   *rand.Rand
}

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	p := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &RNG{pcg: p, r: rand.New(p)}
}

// Float32 returns a uniform number in [0, 1).
func (g *RNG) Float32() float32 { return g.r.Float32() }

// NormFloat64 returns a standard normal number.
func (g *RNG) NormFloat64() float64 { return g.r.NormFloat64() }

// Uint64 returns a uniform 64-bit number.
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// MarshalBinary saves the generator state.
func (g *RNG) MarshalBinary() ([]byte, error) { return g.pcg.MarshalBinary() }

// UnmarshalBinary restores a state saved by MarshalBinary.
func (g *RNG) UnmarshalBinary(b []byte) error { return g.pcg.UnmarshalBinary(b) }

// Mode says whether the graph runs for training (dropout active) or for
// evaluation. One Mode is shared by every op of a model.
type Mode struct {
	Training bool
}
