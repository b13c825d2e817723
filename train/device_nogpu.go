//go:build !cuda

package train

import (
	"errors"

	G "gorgonia.org/gorgonia"

	"gptctl/graph"
)

// newGPUTrainer is not reached in a build without CUDA: SetupDevice never
// picks the GPU there.
func newGPUTrainer(*graph.Model, *G.Node, *AdamW, GPUMath, ...*G.Node) (gpuTrainer, error) {
	return nil, errNoCUDA
}

func newGPUForward(*graph.Model, ...*G.Node) (gpuForward, error) { return nil, errNoCUDA }

func newGPUDecoder(*graph.Params, int) (decoder, error) { return nil, errNoCUDA }

func gpuSgemmPeak(bool, bool) (float64, error) { return 0, errNoCUDA }

func gpuBLASName() string { return "cuda" }

var errNoCUDA = errors.New("this gptctl was built without CUDA (make build-cuda)")
