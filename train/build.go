package train

import "gptctl/graph"

// BuildInfo is what this build of gptctl computes with.
type BuildInfo struct {
	BLAS     string // the BLAS the CPU products use
	BLASNote string // a setting that holds the BLAS back ("" if none)
	CUDA     bool   // built with the CUDA path (make build-cuda)
	GPU      string // the GPU, driver and cuBLAS found, in a CUDA build
	NoGPU    error  // why no GPU is usable, in a CUDA build
}

// Build reports this build's BuildInfo, probing for a GPU in a CUDA build.
func Build() BuildInfo {
	b := BuildInfo{BLAS: graph.BLASName(), BLASNote: graph.BLASNote(), CUDA: graph.CUDA}
	if b.CUDA {
		b.GPU, b.NoGPU = graph.ProbeCUDA()
	}
	return b
}
