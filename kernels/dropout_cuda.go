//go:build cuda

package kernels

// Dropout on the device (dropout.cu): a counter-based mask and its
// application (forward y = x*mask, backward dx = dy*mask).

// DropoutMask fills mask (n) with 0 (probability p) or 1/(1-p), from the
// hash of (seed, offset+i); dropoutMaskHash is its CPU twin.
func (d *Device) DropoutMask(mask Buffer, n int, p float32, seed, offset uint64) error {
	if err := need("dropout mask", want{"mask", mask, n}); err != nil {
		return err
	}
	return d.launch("dropout_mask_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, mask, int64(n), p, seed, offset)
}

// Mul writes y = x * mask over n elements: the forward and the backward of
// dropout, as dropoutOp and dropoutGradOp apply their mask.
func (d *Device) Mul(y, x, mask Buffer, n int) error {
	if err := need("dropout", want{"y", y, n}, want{"x", x, n}, want{"mask", mask, n}); err != nil {
		return err
	}
	return d.launch("mul_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, y, x, mask, int64(n))
}
