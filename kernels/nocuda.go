//go:build !cuda

package kernels

import "errors"

// CUDA reports whether this build can run kernels on an NVIDIA GPU.
const CUDA = false

// ProbeCUDA describes the GPU a CUDA build would use; this build has none.
func ProbeCUDA() (string, error) {
	return "", errors.New("this build has no CUDA support (make build-cuda)")
}
