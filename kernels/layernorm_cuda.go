//go:build cuda

package kernels

// LayerNorm on the device (layernorm.cu), the twins of LayerNormForward and
// LayerNormBackward.

const lnWarps = 8 // rows per block of the forward, warps per block of both

// LayerNormForward writes y (n×c), mean (n) and rstd (n) from x (n×c), w (c), b (c).
func (d *Device) LayerNormForward(y, mean, rstd, x, w, b Buffer, n, c int, eps float32) error {
	if err := need("layernorm", want{"y", y, n * c}, want{"mean", mean, n}, want{"rstd", rstd, n},
		want{"x", x, n * c}, want{"w", w, c}, want{"b", b, c}); err != nil {
		return err
	}
	grid := dim3{(n + lnWarps - 1) / lnWarps, 1, 1}
	return d.launch("layernorm_fwd_f32", grid, dim3{32 * lnWarps, 1, 1}, 0, y, mean, rstd, x, w, b, n, c, eps)
}

// lnChunk is the most columns whose dw and db sums a block of
// LayerNormBackward holds in shared memory at once (2 floats each, within the
// 48 KiB a kernel gets without opting in to more); a wider model takes a
// pass over its rows per lnChunk columns.
const lnChunk = 48 << 10 / 8

// LayerNormBackward overwrites dx (n×c), dw (c) and db (c) given dy (n×c)
// and the forward's x, w, mean and rstd. Each block sums dw and db over its
// rows in shared memory, lnChunk columns at a time; a second kernel adds the
// blocks' partials in order.
func (d *Device) LayerNormBackward(dx, dw, db, dy, x, w, mean, rstd Buffer, n, c int) error {
	if err := need("layernorm backward", want{"dx", dx, n * c}, want{"dw", dw, c}, want{"db", db, c},
		want{"dy", dy, n * c}, want{"x", x, n * c}, want{"w", w, c}, want{"mean", mean, n},
		want{"rstd", rstd, n}); err != nil {
		return err
	}
	nblk := max(1, min((n+lnWarps-1)/lnWarps, 4*max(d.SMs, 1)))
	part, err := d.scratchBuf(nblk * 2 * c)
	if err != nil {
		return err
	}
	cw := min(c, lnChunk)
	if err := d.launch("layernorm_bwd_f32", dim3{nblk, 1, 1}, dim3{32 * lnWarps, 1, 1}, 2*cw*4,
		dx, part, dy, x, w, mean, rstd, n, c, cw); err != nil {
		return err
	}
	return d.launch("layernorm_bwd_reduce_f32", dim3{(2*c + 255) / 256, 1, 1}, dim3{256, 1, 1}, 0,
		dw, db, part, nblk, c)
}
