// Package graph builds the GPT model as a Gorgonia expression graph over the
// fused ops in kernels, differentiates it with Gorgonia, and runs it with a
// Machine that plans every buffer once and reuses it each step. For sampling,
// Decoder runs the same model over the same weights one token at a time with
// a key/value cache.
package graph
