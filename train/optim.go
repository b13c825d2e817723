package train

// The CPU optimizer: AdamW's state, the step that accumulates, clips and
// applies the gradients (graph's arithmetic: graph/optim.go), and the
// learning-rate schedule.

import (
	"fmt"
	"math"

	"gptctl/graph"
)

// AdamW keeps the first and second moments of every weight.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	Step                           int
	M, V                           [][]float32
}

// NewAdamW allocates zeroed moments for params.
func NewAdamW(p *graph.Params, beta1, beta2, eps, weightDecay float64) *AdamW {
	o := &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay}
	for _, w := range p.List {
		o.M = append(o.M, make([]float32, len(w.Data)))
		o.V = append(o.V, make([]float32, len(w.Data)))
	}
	return o
}

// Update applies one step with learning rate lr; grads[i] belongs to
// p.List[i] (graph.Params.AdamWStep: weight decay on matrices and
// embeddings only, and a weight without a gradient left alone).
func (o *AdamW) Update(p *graph.Params, grads [][]float32, lr float64) {
	o.Step++
	p.AdamWStep(grads, o.M, o.V, lr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.Step)
}

// cpuStep is one optimizer step on the CPU: accum forward and backward
// passes of tr, fill putting each micro-batch into the model's inputs,
// their gradients averaged into grads (tr's own buffers when accum is 1),
// clipped to clip and applied by o at lr. It returns the mean loss and the
// gradient norm before clipping; a loss or a norm that is not finite stops
// it before the update, with a *nonFiniteStep. pretrain and bench step
// with it.
func cpuStep(tr *graph.Trainer, p *graph.Params, o *AdamW, grads [][]float32, accum int, clip float64, lr float64, fill func() error) (loss, norm float64, err error) {
	var sum float64
	var bad *nonFiniteStep
	for micro := range accum {
		if err := fill(); err != nil {
			return 0, 0, err
		}
		// A step whose loss went non-finite still runs all its
		// micro-batches, as the GPU trainer does: every step draws
		// grad_accum batches (and as much dropout randomness), skipped or
		// not, so the data position after it is the same on either device.
		l, err := tr.Step()
		if err != nil {
			return 0, 0, err
		}
		if bad == nil && (math.IsNaN(float64(l)) || math.IsInf(float64(l), 0)) {
			bad = &nonFiniteStep{what: "training loss", v: float64(l)}
		}
		if bad != nil {
			continue
		}
		sum += float64(l)
		if accum > 1 {
			graph.AccumulateGrads(grads, tr.Grad, micro, 1/float32(accum))
		}
	}
	if bad != nil {
		return 0, 0, bad
	}
	norm = graph.ClipGrads(grads, clip)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return 0, norm, &nonFiniteStep{what: "gradient norm", v: norm}
	}
	o.Update(p, grads, lr)
	return sum / float64(accum), norm, nil
}

// stepGrads returns the gradient buffers cpuStep works in: tr's own for
// one micro-batch, buffers of their own to accumulate into for more.
func stepGrads(tr *graph.Trainer, p *graph.Params, accum int) [][]float32 {
	grads := make([][]float32, len(p.List))
	for i, w := range p.List {
		if accum > 1 {
			grads[i] = make([]float32, len(w.Data))
		} else {
			grads[i] = tr.Grad(i)
		}
	}
	return grads
}

// nonFiniteStep is a step cpuStep stopped before its update: its training
// loss or gradient norm is v.
type nonFiniteStep struct {
	what string
	v    float64
}

func (e *nonFiniteStep) Error() string {
	if e.what == "training loss" {
		return fmt.Sprintf("the training loss is %v (lower lr, or check the data)", e.v)
	}
	return fmt.Sprintf("the %s is %v", e.what, e.v)
}

// LR is the learning rate at step (0-based): linear warmup over warmup steps,
// then decay from peak to floor at step total, floor after: cosine, linear,
// or none (decay constant stays at peak).
func LR(step, warmup, total int, peak, floor float64, decay string) float64 {
	if step < warmup {
		return peak * float64(step+1) / float64(warmup)
	}
	if step >= total || total <= warmup {
		return floor
	}
	frac := float64(step-warmup) / float64(total-warmup)
	switch decay {
	case "constant":
		return peak
	case "linear":
		return floor + (peak-floor)*(1-frac)
	}
	return floor + (peak-floor)*0.5*(1+math.Cos(math.Pi*frac))
}
