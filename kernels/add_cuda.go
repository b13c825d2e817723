//go:build cuda

package kernels

// Residual add and gradient accumulation on the device (add.cu).

// Add writes y = a + b over n elements, the twin of AddInto.
func (d *Device) Add(y, a, b Buffer, n int) error {
	if err := need("add", want{"y", y, n}, want{"a", a, n}, want{"b", b, n}); err != nil {
		return err
	}
	return d.launch("add_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, y, a, b, int64(n))
}

// AddInPlace adds a to y over n elements (a gradient reaching a node twice).
func (d *Device) AddInPlace(y, a Buffer, n int) error {
	if err := need("add in place", want{"y", y, n}, want{"a", a, n}); err != nil {
		return err
	}
	return d.launch("add_inplace_f32", d.grid1(n, 256), dim3{256, 1, 1}, 0, y, a, int64(n))
}
