//go:build cuda

package kernels

import (
	"fmt"
	"math"
)

// AdamW updates p, m and v (n) in place from g on the device (adamw.cu),
// the twin of AdamW: the bias corrections are computed here, as AdamW does.
// Unless refused is the zero Buffer, the update happens only when its
// first element, read on the device, is 0 (the refused-step count of a
// StepGuard state: state.Slice(2, 1)).
func (d *Device) AdamW(p, g, m, v Buffer, n int, lr, beta1, beta2, eps, weightDecay float32, step int, refused Buffer) error {
	if step < 1 {
		return fmt.Errorf("cuda: adamw: step %d, want 1 or more", step)
	}
	if err := need("adamw", want{"p", p, n}, want{"g", g, n}, want{"m", m, n}, want{"v", v, n}); err != nil {
		return err
	}
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	stepSize := float32(float64(lr) / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	decay := 1 - lr*weightDecay
	return d.launch("adamw_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, p, g, m, v, int64(n),
		beta1, beta2, eps, decay, stepSize, sqrtBC2, refused)
}
