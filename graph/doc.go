// Package graph builds the GPT model as a Gorgonia expression graph over the
// fused ops in kernels, differentiates it with Gorgonia, and runs it with a
// Machine that plans every buffer once and reuses it each step. For sampling,
// Decoder runs the same model over the same weights one token at a time with
// a key/value cache.
//
// graph is train's one door to kernels: it also holds the arithmetic of the
// CPU optimizer over a model's weights (optim.go: the AdamW step, gradient
// norms and clipping, micro-batch accumulation, beside their device twins in
// device_optim.go and device_trainer.go), the RNG that draws weights,
// dropout masks and batches, what the build computes with (backend.go: BLAS,
// CUDA, the GPU kernels' limits) and, in CUDA builds, the GPU itself
// (device_open.go: Device, Buffer, OpenCUDA).
package graph
