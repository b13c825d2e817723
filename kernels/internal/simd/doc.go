// Package simd holds the AVX2/FMA inner loops of the CPU kernels (Go
// assembly, amd64). It is its own package because Go does not allow
// assembly files in a package that uses cgo, as kernels does for OpenBLAS
// and CUDA. Every function takes n, a multiple of 8; the callers in kernels
// run the tail and, where Enabled is false, everything in plain Go.
package simd

// AdamConsts are the per-step constants of an AdamW update, in the order
// AdamW's assembly reads them.
type AdamConsts struct {
	Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, Eps, Decay, StepSize, SqrtBC2 float32
}
