//go:build cuda

package kernels

import "fmt"

// AdamW updates p, m and v (n) in place from g on the device (adamw.cu),
// the twin of AdamW: its constants are computed here, as AdamW computes them.
// Unless refused is the zero Buffer, the update happens only when its
// first element, read on the device, is 0 (the refused-step count of a
// StepGuard state: state.Slice(2, 1)).
func (d *Device) AdamW(p, g, m, v Buffer, n int, lr, beta1, beta2, eps, weightDecay float64, step int, refused Buffer) error {
	if step < 1 {
		return fmt.Errorf("cuda: adamw: step %d, want 1 or more", step)
	}
	if err := need("adamw", want{"p", p, n}, want{"g", g, n}, want{"m", m, n}, want{"v", v, n}); err != nil {
		return err
	}
	k := adamConstants(lr, beta1, beta2, eps, weightDecay, step)
	return d.launch("adamw_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, p, g, m, v, int64(n),
		k.Beta1, k.OneMinusBeta1, k.Beta2, k.OneMinusBeta2, k.Eps, k.Decay, k.StepSize, k.SqrtBC2, refused)
}
