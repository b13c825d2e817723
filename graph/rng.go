package graph

// The random source of a model and of the loop that trains it.

import "gptctl/kernels"

// RNG is a seeded PCG generator whose state can be saved and restored
// (MarshalBinary, UnmarshalBinary): NewParams draws initial weights from
// one, a Model its dropout masks, and train its batches, so that a resumed
// run draws what the uninterrupted one would have. It is kernels.RNG, the
// generator the dropout ops take.
type RNG = kernels.RNG

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG { return kernels.NewRNG(seed) }
