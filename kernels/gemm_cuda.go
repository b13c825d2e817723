//go:build cuda

// Matrix products on the device: Sgemm (cuBLAS when loaded, else gemm.cu's
// kernel; bfloat16 operands with SetBF16) and the batched products of
// attention (cuBLAS strided batched when loaded, else gemm.cu).

package kernels

import "fmt"

// Sgemm is kernels.Sgemm on device buffers: C = alpha*op(A)@op(B) + beta*C,
// row-major, C not read when beta is 0.
func (d *Device) Sgemm(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int, b Buffer, ldb int,
	beta float32, c Buffer, ldc int) error {
	if err := checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc); err != nil {
		return err
	}
	if m == 0 || n == 0 {
		return nil
	}
	if d.blas != nil && d.dry == nil {
		if d.bf16 {
			return d.gemmCublasBatch(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, gemmBatch{})
		}
		return d.blas.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	return d.gemmOwn(0, transA, transB, m, n, k, alpha, a, lda, Buffer{}, b, ldb, beta, c, ldc, gemmBatch{})
}

// SetBF16 makes the products that go through cuBLAS (Linear's, attention's)
// multiply bfloat16 copies of their operands, accumulating and writing
// float32: twice TF32's tensor-core rate, about 3 significant digits per
// operand. Weights, gradients and optimizer state stay float32. It needs
// cuBLAS.
func (d *Device) SetBF16(on bool) error {
	if on && (d.blas == nil || d.dry != nil) {
		return fmt.Errorf("cuda: bf16 products need cuBLAS, and this device multiplies with %s", d.BLAS)
	}
	d.bf16 = on
	return nil
}

// ToBF16 writes the n values of x, rounded to bfloat16, into dst as 16-bit
// values (dst holds at least (n+1)/2 float32 slots), the twin of BF16.
func (d *Device) ToBF16(dst, x Buffer, n int) error {
	if err := need("to bf16", want{"dst", dst, (n + 1) / 2}, want{"x", x, n}); err != nil {
		return err
	}
	return d.launch("f32_to_bf16", d.grid1(n, 256), dim3{256, 1, 1}, 0, dst, x, int64(n))
}

// GemmBF16 is Sgemm over operands already in bfloat16 (ToBF16's layout:
// element i of a at byte 2i), C float32; it needs cuBLAS.
func (d *Device) GemmBF16(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int, b Buffer, ldb int,
	beta float32, c Buffer, ldc int) error {
	if d.blas == nil || d.dry != nil {
		return fmt.Errorf("cuda: bf16 products need cuBLAS")
	}
	if err := need("gemm bf16", matrix("C", c, m, n, ldc)); err != nil {
		return err
	}
	return d.blas.gemmBF16(transA, transB, m, n, k, alpha, a.ptr, lda, 0, b.ptr, ldb, 0, beta, c, ldc, 0, 1)
}

// bf16Operand converts the n elements of x to bfloat16 in scratch slot i
// (0 for A, 1 for B) and returns the copy's device address.
func (d *Device) bf16Operand(i int, x Buffer, n int) (uint64, error) {
	buf := &d.bfScratch[i]
	if buf.n < (n+1)/2 {
		if err := d.Sync(); err != nil {
			return 0, err
		}
		if !buf.IsNil() {
			if err := d.Free(*buf); err != nil {
				return 0, err
			}
		}
		*buf = Buffer{}
		b, err := d.Alloc((n + 1) / 2)
		if err != nil {
			return 0, err
		}
		*buf = b
	}
	if err := d.ToBF16(*buf, x, n); err != nil {
		return 0, err
	}
	return buf.ptr, nil
}

// SgemmOwn is Sgemm through gemm.cu's kernel whether or not cuBLAS is
// loaded (the fallback, tested on its own).
func (d *Device) SgemmOwn(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int, b Buffer, ldb int,
	beta float32, c Buffer, ldc int) error {
	if err := checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc); err != nil {
		return err
	}
	if m == 0 || n == 0 {
		return nil
	}
	return d.gemmOwn(0, transA, transB, m, n, k, alpha, a, lda, Buffer{}, b, ldb, beta, c, ldc, gemmBatch{})
}

// SetTF32 lets cuBLAS products use TF32 tensor cores (about 1e-3 relative
// error); off by default, so products match the CPU to float32 rounding.
func (d *Device) SetTF32(on bool) error {
	d.tf32 = on
	if d.blas == nil || d.dry != nil {
		return nil
	}
	return d.blas.setTF32(on)
}

// UsesCublas reports whether Sgemm goes through cuBLAS.
func (d *Device) UsesCublas() bool { return d.blas != nil }

func checkGemm(transA, transB bool, m, n, k int, a Buffer, lda int, b Buffer, ldb int, c Buffer, ldc int) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("cuda: sgemm: negative size m=%d n=%d k=%d", m, n, k)
	}
	ar, ac, br, bc := operandShapes(transA, transB, m, n, k)
	return need("sgemm", matrix("A", a, ar, ac, lda), matrix("B", b, br, bc, ldb), matrix("C", c, m, n, ldc))
}

// operandShapes returns the stored rows and columns of A and B in the
// product op(A) (m×k) times op(B) (k×n).
func operandShapes(transA, transB bool, m, n, k int) (ar, ac, br, bc int) {
	ar, ac, br, bc = m, k, k, n
	if transA {
		ar, ac = k, m
	}
	if transB {
		br, bc = n, k
	}
	return ar, ac, br, bc
}

// matrix is the want of a rows×cols row-major matrix with row stride ld
// (an ld below cols asks for more than any buffer holds).
func matrix(name string, b Buffer, rows, cols, ld int) want {
	if rows == 0 || cols == 0 {
		return want{name, b, 0}
	}
	if ld < cols {
		return want{fmt.Sprintf("%s (ld %d < %d columns)", name, ld, cols), b, 1 << 62}
	}
	return want{name, b, (rows-1)*ld + cols}
}

// gemmGridLimit is the most products and tiles of rows gemmOwn puts in one
// launch (a test lowers it to split small products).
var gemmGridLimit = maxGridYZ

// gemmBatch describes a batch of products: z = zo*nInner + zi offsets each
// matrix by zo*outer + zi*inner elements; count 0 means one product.
type gemmBatch struct {
	count, nInner                                  int
	aOuter, aInner, bOuter, bInner, cOuter, cInner int
}

// Modes of gemm.cu (the causal structure of attention).
const (
	gemmFull         = 0
	gemmLowerC       = 1 // C lower-triangular: skip tiles above the diagonal
	gemmLowerA       = 2 // row i of op(A) has k <= i
	gemmUpperA       = 3 // row i of op(A) has k >= i
	gemmTile         = 64
	gemmBlockThreads = 256
)

func (d *Device) gemmOwn(mode int, transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int, mask Buffer,
	b Buffer, ldb int, beta float32, c Buffer, ldc int, bt gemmBatch) error {
	name := "gemm_" + map[bool]string{false: "n", true: "t"}[transA] + map[bool]string{false: "n", true: "t"}[transB] + "_f32"
	count, nInner := max(bt.count, 1), max(bt.nInner, 1)
	at := func(x Buffer, off int) Buffer {
		if x.IsNil() || off == 0 {
			return x
		}
		return x.Slice(off, x.n-off)
	}
	// A grid holds at most maxGridYZ products (z, whole outer indexes at a
	// time) and maxGridYZ tiles of rows (y, split only for a full product,
	// whose rows do not depend on their index): more take several launches.
	perZ := max(1, gemmGridLimit/nInner) * nInner
	rowsY := m
	if mode == gemmFull {
		rowsY = min(m, gemmGridLimit*gemmTile)
	}
	for z0 := 0; z0 < count; z0 += perZ {
		o := z0 / nInner
		for r0 := 0; r0 < max(m, 1); r0 += max(rowsY, 1) {
			rows := min(rowsY, m-r0)
			offA := o*bt.aOuter + r0*lda
			if transA {
				offA = o*bt.aOuter + r0
			}
			grid := dim3{(n + gemmTile - 1) / gemmTile, (rows + gemmTile - 1) / gemmTile, min(perZ, count-z0)}
			if err := d.launch(name, grid, dim3{gemmBlockThreads, 1, 1}, 0, mode, rows, n, k, alpha,
				at(a, offA), lda, int64(bt.aOuter), int64(bt.aInner), at(mask, offA),
				at(b, o*bt.bOuter), ldb, int64(bt.bOuter), int64(bt.bInner),
				beta, at(c, o*bt.cOuter+r0*ldc), ldc, int64(bt.cOuter), int64(bt.cInner), nInner); err != nil {
				return err
			}
		}
	}
	return nil
}

// gemmCublasBatch runs the products of bt through cuBLAS's strided batched
// GEMM: one call per outer index, the inner ones a stride apart (or the
// other way round when that makes fewer calls), since the attention
// layouts have two strides and cuBLAS takes one.
//
// With bf16 on, A and B are first converted to bfloat16 copies of the same
// layout (every element from the first matrix's first to the last one's
// last), and the products read those.
func (d *Device) gemmCublasBatch(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int,
	b Buffer, ldb int, beta float32, c Buffer, ldc int, bt gemmBatch) error {
	nInner := max(bt.nInner, 1)
	nOuter := max(bt.count, 1) / nInner
	at := func(x Buffer, off int) Buffer { return x.Slice(off, x.n-off) }
	var pa, pb uint64
	if d.bf16 {
		ar, ac, br, bc := operandShapes(transA, transB, m, n, k)
		var err error
		if pa, err = d.bf16Operand(0, a, (nOuter-1)*bt.aOuter+(nInner-1)*bt.aInner+(ar-1)*lda+ac); err != nil {
			return err
		}
		if pb, err = d.bf16Operand(1, b, (nOuter-1)*bt.bOuter+(nInner-1)*bt.bInner+(br-1)*ldb+bc); err != nil {
			return err
		}
	}
	run := func(offA, offB, offC, sa, sb, sc, count int) error {
		if d.bf16 {
			return d.blas.gemmBF16(transA, transB, m, n, k, alpha, pa+2*uint64(offA), lda, sa,
				pb+2*uint64(offB), ldb, sb, beta, at(c, offC), ldc, sc, count)
		}
		return d.blas.sgemmStrided(transA, transB, m, n, k, alpha, at(a, offA), lda, sa, at(b, offB), ldb, sb,
			beta, at(c, offC), ldc, sc, count)
	}
	if nOuter <= nInner {
		for o := range nOuter {
			if err := run(o*bt.aOuter, o*bt.bOuter, o*bt.cOuter, bt.aInner, bt.bInner, bt.cInner, nInner); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range nInner {
		if err := run(i*bt.aInner, i*bt.bInner, i*bt.cInner, bt.aOuter, bt.bOuter, bt.cOuter, nOuter); err != nil {
			return err
		}
	}
	return nil
}
