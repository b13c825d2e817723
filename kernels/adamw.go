// The AdamW update on the CPU, in place, with PyTorch's torch.optim.AdamW
// semantics: decoupled weight decay first, then the bias-corrected Adam step.
// Large tensors are split over the worker pool; the loop body runs eight
// elements at a time in AVX2 where the CPU has it.

package kernels

import (
	"fmt"
	"math"

	"github.com/chewxy/math32"

	"gptctl/kernels/internal/simd"
)

// adamBlock is the number of elements one worker updates at a time.
const adamBlock = 1 << 16

// AdamW updates parameters p, first moments m and second moments v in place
// from gradients g, for step = 1, 2, ... (the bias corrections use it):
//
//	p -= lr*wd*p
//	m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g
//	p -= lr * (m/(1-beta1^step)) / (sqrt(v/(1-beta2^step)) + eps)
//
// As in PyTorch, the last line is computed as p -= (lr/bc1) * m/(sqrt(v)/sqrt(bc2) + eps),
// and the constants (1-beta1, 1-beta2, 1-lr*wd, lr/bc1, sqrt(bc2)) are
// computed in float64 from the float64 hyperparameters and rounded to
// float32 once: 1-beta2 taken from float32(0.999) is 0.00099998713, which
// puts every second moment 1.3e-5 (relative) off PyTorch's.
func AdamW(p, g, m, v []float32, lr, beta1, beta2, eps, weightDecay float64, step int) {
	if step < 1 {
		panic(fmt.Sprintf("kernels: AdamW: step %d, want 1 or more", step))
	}
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	k := adamConstants(lr, beta1, beta2, eps, weightDecay, step)
	if blocks(len(p), adamBlock) <= 1 {
		adamw(p, g, m, v, &k)
		return
	}
	kp := new(simd.AdamConsts)
	*kp = k
	parallelRanges(len(p), blocks(len(p), adamBlock), func(lo, hi int) {
		adamw(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], kp)
	})
}

// adamConstants is the float32 constants of step's update, computed as
// PyTorch computes its Python-float scalars: in float64, then rounded.
func adamConstants(lr, beta1, beta2, eps, weightDecay float64, step int) simd.AdamConsts {
	bc1 := 1 - math.Pow(beta1, float64(step))
	bc2 := 1 - math.Pow(beta2, float64(step))
	return simd.AdamConsts{Beta1: float32(beta1), OneMinusBeta1: float32(1 - beta1), Beta2: float32(beta2), OneMinusBeta2: float32(1 - beta2),
		Eps: float32(eps), Decay: float32(1 - lr*weightDecay), StepSize: float32(lr / bc1), SqrtBC2: float32(math.Sqrt(bc2))}
}

func adamw(p, g, m, v []float32, k *simd.AdamConsts) {
	if n := len(p) &^ 7; hasAVX2 && n > 0 {
		simd.AdamW(&p[0], &g[0], &m[0], &v[0], n, k)
		p, g, m, v = p[n:], g[n:], m[n:], v[n:]
	}
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for i, gi := range g {
		mi := k.Beta1*m[i] + k.OneMinusBeta1*gi
		vi := k.Beta2*v[i] + k.OneMinusBeta2*gi*gi
		m[i], v[i] = mi, vi
		p[i] = p[i]*k.Decay - k.StepSize*mi/(math32.Sqrt(vi)/k.SqrtBC2+k.Eps)
	}
}

// StepGuard is the CPU twin of gradnorm.cu's step_guard, which lets a
// device trainer refuse a step without waiting for its gradient norm:
// when sumsq, the global sum of squares of the step's gradients, is not
// finite, the step is refused: refused[0] counts it and refused[1] records
// the first refused step. A device AdamW leaves the weights alone while
// refused[0] is not 0.
func StepGuard(sumsq float64, refused *[2]int32, step int) {
	if math.IsNaN(sumsq) || math.IsInf(sumsq, 0) {
		if refused[0] == 0 {
			refused[1] = int32(step)
		}
		refused[0]++
	}
}
