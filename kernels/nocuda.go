//go:build !cuda

package kernels

// CUDA reports whether this build can run kernels on an NVIDIA GPU.
const CUDA = false
