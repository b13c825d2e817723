//go:build cuda

package kernels

// Linear on the device: the bias kernels of linear.cu and the products of
// gemm_cuda.go, in the order linearOp and linearGradOp use on the CPU.

// colsumChunk is the number of rows one block of colsum_partial_f32 sums.
const colsumChunk = 256

// LinearForward writes y (n, out) = x (n, in) @ w + bias, w (in, out), or
// x @ wᵀ + bias with w (out, in) when transW; bias may be the zero Buffer.
func (d *Device) LinearForward(y, x, w, bias Buffer, n, in, out int, transW bool) error {
	beta := float32(0)
	if !bias.IsNil() {
		if err := d.BiasRows(y, bias, n, out); err != nil {
			return err
		}
		beta = 1
	}
	ldw := out
	if transW {
		ldw = in
	}
	return d.Sgemm(false, transW, n, out, in, 1, x, in, w, ldw, beta, y, out)
}

// LinearBackward overwrites dx (n, in), dw (w's shape) and, when it is not
// the zero Buffer, db (out), given dy (n, out) and the forward's x and w.
func (d *Device) LinearBackward(dx, dw, db, dy, x, w Buffer, n, in, out int, transW bool) error {
	var err error
	if transW { // w (out, in): dx = dy @ w, dw = dyᵀ @ x
		err = d.Sgemm(false, false, n, in, out, 1, dy, out, w, in, 0, dx, in)
		if err == nil {
			err = d.Sgemm(true, false, out, in, n, 1, dy, out, x, in, 0, dw, in)
		}
	} else { // w (in, out): dx = dy @ wᵀ, dw = xᵀ @ dy
		err = d.Sgemm(false, true, n, in, out, 1, dy, out, w, out, 0, dx, in)
		if err == nil {
			err = d.Sgemm(true, false, in, out, n, 1, x, in, dy, out, 0, dw, out)
		}
	}
	if err != nil || db.IsNil() {
		return err
	}
	return d.SumRows(db, dy, n, out)
}

// BiasRows writes every row of y (n, c) as b (c).
func (d *Device) BiasRows(y, b Buffer, n, c int) error {
	if err := need("bias", want{"y", y, n * c}, want{"b", b, c}); err != nil {
		return err
	}
	return d.launch("bias_rows_f32", d.grid1(n*c, 256), dim3{256, 1, 1}, 0, y, b, n, c)
}

// SumRows overwrites db (c) with the column sums of dy (n, c), the twin of
// sumRows: partial sums of colsumChunk rows, then their sum in order.
func (d *Device) SumRows(db, dy Buffer, n, c int) error {
	if err := need("sum rows", want{"db", db, c}, want{"dy", dy, n * c}); err != nil {
		return err
	}
	chunks := max(1, (n+colsumChunk-1)/colsumChunk)
	part, err := d.scratchBuf(chunks * c)
	if err != nil {
		return err
	}
	if err := d.launch("colsum_partial_f32", dim3{(c + 31) / 32, chunks, 1}, dim3{32, 8, 1}, 0,
		part, dy, n, c, colsumChunk); err != nil {
		return err
	}
	return d.launch("colsum_reduce_f32", dim3{(c + 255) / 256, 1, 1}, dim3{256, 1, 1}, 0, db, part, chunks, c)
}
