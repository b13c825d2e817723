package graph

// What this build computes with, for the commands that report it and the
// settings that depend on it: the BLAS of the CPU products and its rate,
// whether the CUDA path is built in and which GPU it finds, and the limits
// of the GPU kernels a model's shape must fit. The device itself (Device,
// OpenCUDA) is in device_open.go, in CUDA builds only.

import (
	"time"

	"gptctl/kernels"
)

// CUDA reports whether this build can run models on an NVIDIA GPU (make
// build-cuda).
const CUDA = kernels.CUDA

// BLASName names the BLAS the CPU products use (gonum, or openblas/ and the
// OpenBLAS kernel set in use).
func BLASName() string { return kernels.BLASName() }

// BLASNote is a line for the logs when the environment holds OpenBLAS to
// kernels older than the CPU's, "" otherwise.
func BLASNote() string { return kernels.BLASNote() }

// ProbeCUDA describes the GPU, driver and cuBLAS a CUDA build would use, or
// says why there is none (in a build without CUDA, always an error).
func ProbeCUDA() (string, error) { return kernels.ProbeCUDA() }

// ErrDeviceMemory is matched (errors.Is) by the error of a device
// allocation that failed for want of GPU memory, in either build, so that
// a caller can tell a model or batch too large for the GPU from other
// failures.
var ErrDeviceMemory = kernels.ErrDeviceMemory

// FlashHeadSize reports whether the GPU's flash attention has kernels for
// heads of hs dimensions (n_embd/n_head); other models' attention takes
// the batched path.
func FlashHeadSize(hs int) bool { return kernels.FlashHeadSize(hs) }

// DeviceDecoderMaxCtx is the longest context (n_ctx) NewDeviceDecoder takes
// at head size hs: its attention keeps a token's keys in the GPU's shared
// memory (12,000 at head size 64); 0 when not even one fits.
func DeviceDecoderMaxCtx(hs int) int { return kernels.DecodeAttentionMaxKeys(hs) }

// ParallelFor calls fn(i) for every i < n on the worker pool the CPU
// kernels split their work over (GOMAXPROCS goroutines), for coarse work
// beside the model's, such as a sample's draw from each row of logits.
func ParallelFor(n int, fn func(i int)) { kernels.ParallelFor(n, fn) }

// SgemmPeak measures the sgemm rate in GFLOP/s of this machine at the current
// thread count: the best of up to eight 768×768×768 products (after one
// warm-up), stopping after half a second.
func SgemmPeak() float64 {
	const n = 768
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], b[i] = float32(i%7)-3, float32(i%5)-2
	}
	best := 0.0
	start := time.Now()
	for i := 0; i < 9 && (i < 3 || time.Since(start) < 500*time.Millisecond); i++ {
		t0 := time.Now()
		kernels.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		if s := time.Since(t0).Seconds(); i > 0 {
			best = max(best, 2*n*n*n/s/1e9)
		}
	}
	return best
}
