//go:build cuda

package train

// The GPU's yardsticks for bench: which GEMM its products go to and the
// rate of that GEMM, against which a GPU bench's MFU is measured.

import "gptctl/graph"

// gpuBLASName names the GEMM the GPU's products go to: "cublas/12.4.5" or
// "gemm.cu" (kernels' own).
func gpuBLASName() string {
	dev, err := openGPU()
	if err != nil {
		return "cuda"
	}
	return dev.CuBLAS()
}

// gpuSgemmPeak measures the GPU's GEMM rate in GFLOP/s for the products
// training uses: float32 (TF32 when tf32), or bfloat16 operands with float32
// accumulation when bf16. The best of several 4096³ products of random
// matrices after a warm-up (bf16 operands converted beforehand), the
// yardstick of a GPU bench's MFU as graph.SgemmPeak is of a CPU one.
// (Products of zeros run faster: the tensor cores draw less power and the
// clocks stay higher; training's operands are not zeros.)
func gpuSgemmPeak(tf32, bf16 bool) (float64, error) {
	dev, err := openGPU()
	if err != nil {
		return 0, err
	}
	if err := dev.SetTF32(tf32); err != nil {
		return 0, err
	}
	var held []graph.Buffer // freed on return, the last allocated first
	defer func() {
		for i := len(held) - 1; i >= 0; i-- {
			dev.Free(held[i])
		}
	}()
	const n = peakN
	bufs, err := peakOperands(dev, &held)
	if err != nil {
		return 0, err
	}
	product := func() error { return dev.Sgemm(false, false, n, n, n, 1, bufs[0], n, bufs[1], n, 0, bufs[2], n) }
	if bf16 {
		ab, err := peakBF16Operands(dev, bufs, &held)
		if err != nil {
			return 0, err
		}
		product = func() error { return dev.GemmBF16(false, false, n, n, n, 1, ab[0], n, ab[1], n, 0, bufs[2], n) }
	}
	return bestGemmRate(dev, product)
}

// peakN is the size of gpuSgemmPeak's square matrices.
const peakN = 4096

// peakOperands allocates gpuSgemmPeak's three peakN² float32 matrices, each
// appended to held as it is, and fills them with the same random numbers in
// [-1, 1).
func peakOperands(dev *graph.Device, held *[]graph.Buffer) ([3]graph.Buffer, error) {
	const n = peakN
	var bufs [3]graph.Buffer
	for i := range bufs {
		var err error
		if bufs[i], err = dev.Alloc(n * n); err != nil {
			return bufs, err
		}
		*held = append(*held, bufs[i])
	}
	rng := graph.NewRNG(1)
	host := make([]float32, n*n)
	for i := range host {
		host[i] = rng.Float32()*2 - 1
	}
	for i := range bufs {
		if err := dev.Upload(bufs[i], host); err != nil {
			return bufs, err
		}
	}
	return bufs, nil
}

// peakBF16Operands allocates bfloat16 copies of the first two of bufs, the
// operands of gpuSgemmPeak's product, each appended to held as it is.
func peakBF16Operands(dev *graph.Device, bufs [3]graph.Buffer, held *[]graph.Buffer) ([2]graph.Buffer, error) {
	const n = peakN
	var ab [2]graph.Buffer
	for i := range ab {
		var err error
		if ab[i], err = dev.Alloc(n * n / 2); err != nil {
			return ab, err
		}
		*held = append(*held, ab[i])
		if err := dev.ToBF16(ab[i], bufs[i], n*n); err != nil {
			return ab, err
		}
	}
	return ab, nil
}

// bestGemmRate times six runs of product, a peakN³ GEMM, and returns the
// best rate of the last five in GFLOP/s (the first is a warm-up).
func bestGemmRate(dev *graph.Device, product func() error) (float64, error) {
	const n = peakN
	best := 0.0
	for i := range 6 {
		stop, err := dev.Timer()
		if err != nil {
			return 0, err
		}
		if err := product(); err != nil {
			stop() // frees the timer's events; the product's error is the one to report
			return 0, err
		}
		ms, err := stop()
		if err != nil {
			return 0, err
		}
		if i > 0 && ms > 0 {
			best = max(best, 2*n*n*n/(ms/1e3)/1e9)
		}
	}
	return best, nil
}
