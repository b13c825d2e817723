//go:build cuda

package kernels

// GELU on the device (gelu.cu), the twins of GELUForward and GELUBackward
// (erf false) and of GELUErfForward and GELUErfBackward (erf true).

// GELUForward writes y[i] = gelu(x[i]) for i < n.
func (d *Device) GELUForward(y, x Buffer, n int, erf bool) error {
	if err := need("gelu", want{"y", y, n}, want{"x", x, n}); err != nil {
		return err
	}
	return d.launch(geluKernel("fwd", erf), d.grid1(n, 256), dim3{256, 1, 1}, 0, y, x, int64(n))
}

// GELUBackward writes dx[i] = dy[i] * gelu'(x[i]) for i < n.
func (d *Device) GELUBackward(dx, dy, x Buffer, n int, erf bool) error {
	if err := need("gelu backward", want{"dx", dx, n}, want{"dy", dy, n}, want{"x", x, n}); err != nil {
		return err
	}
	return d.launch(geluKernel("bwd", erf), d.grid1(n, 256), dim3{256, 1, 1}, 0, dx, dy, x, int64(n))
}

func geluKernel(dir string, erf bool) string {
	if erf {
		return "gelu_erf_" + dir + "_f32"
	}
	return "gelu_" + dir + "_f32"
}
