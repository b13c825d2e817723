package graph

// The optimizer's arithmetic over a model's weights and their gradients in
// host memory: micro-batch accumulation, global gradient-norm clipping and
// the AdamW step, the CPU twins of DeviceTrainer.AccumulateGrads,
// DeviceTrainer.ClipGrads and DeviceAdamW.Update. train keeps the
// optimizer's state (its moments and step, in checkpoints) and the
// learning-rate schedule.

import (
	"math"

	"gptctl/kernels"
)

// AdamWStep applies AdamW step number step (from 1) with learning rate lr
// to the weights of p: grads[i], m[i] and v[i] (the moments) belong to
// p.List[i]. Weight decay is decoupled and applies to matrices and
// embeddings only (Param.Decay); a weight without a gradient (grads[i]
// nil) is left alone, as PyTorch does.
func (p *Params) AdamWStep(grads, m, v [][]float32, lr, beta1, beta2, eps, weightDecay float64, step int) {
	for i, w := range p.List {
		if grads[i] == nil {
			continue
		}
		wd := 0.0
		if w.Decay() {
			wd = weightDecay
		}
		kernels.AdamW(w.Data, grads[i], m[i], v[i], lr, beta1, beta2, eps, wd, step)
	}
}

// GradNorm is the global L2 norm of all gradients.
func GradNorm(grads [][]float32) float64 {
	var s float64
	for _, g := range grads {
		s += kernels.SumSquares(g)
	}
	return math.Sqrt(s)
}

// ClipGrads scales all gradients so their global norm is at most maxNorm and
// returns the norm before clipping. maxNorm <= 0 disables clipping.
func ClipGrads(grads [][]float32, maxNorm float64) float64 {
	norm := GradNorm(grads)
	if maxNorm > 0 && norm > maxNorm {
		scale := float32(maxNorm / (norm + 1e-6))
		for _, g := range grads {
			kernels.Scale(g, scale)
		}
	}
	return norm
}

// AccumulateGrads adds the gradients of micro-batch micro (grad(i) for
// weight i; nil for a weight without one) into acc, scaled by its weight
// (1/n of n for a plain mean); the first micro-batch overwrites what acc
// held.
func AccumulateGrads(acc [][]float32, grad func(i int) []float32, micro int, scale float32) {
	for i, a := range acc {
		g := grad(i)
		if g == nil {
			continue
		}
		kernels.ScaleInto(a, g, scale, micro > 0)
	}
}
