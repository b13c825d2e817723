// Package kernels holds gptctl's fused operations as Gorgonia ops.
// Each op has a plain CPU implementation (the reference) and its own gradient
// op; CUDA twins sit behind the cuda build tag.
package kernels
