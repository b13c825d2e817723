// The AdamW update on the CPU, in place, with PyTorch's torch.optim.AdamW
// semantics: decoupled weight decay first, then the bias-corrected Adam step.

package kernels

import (
	"fmt"
	"math"

	"github.com/chewxy/math32"
)

// AdamW updates parameters p, first moments m and second moments v in place
// from gradients g, for step = 1, 2, ... (the bias corrections use it):
//
//	p -= lr*wd*p
//	m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g
//	p -= lr * (m/(1-beta1^step)) / (sqrt(v/(1-beta2^step)) + eps)
//
// As in PyTorch, the last line is computed as p -= (lr/bc1) * m/(sqrt(v)/sqrt(bc2) + eps).
func AdamW(p, g, m, v []float32, lr, beta1, beta2, eps, weightDecay float32, step int) {
	if step < 1 {
		panic(fmt.Sprintf("kernels: AdamW: step %d, want 1 or more", step))
	}
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	stepSize := float32(float64(lr) / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	decay := 1 - lr*weightDecay
	for i, gi := range g {
		mi := beta1*m[i] + (1-beta1)*gi
		vi := beta2*v[i] + (1-beta2)*gi*gi
		m[i], v[i] = mi, vi
		p[i] = p[i]*decay - stepSize*mi/(math32.Sqrt(vi)/sqrtBC2+eps)
	}
}
