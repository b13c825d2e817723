//go:build gpu

// Matrix products on the device: Sgemm (cuBLAS when loaded, else gemm.cu's
// kernel) and the batched causal products of attention (always gemm.cu).

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
		return d.blas.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	return d.gemmOwn(0, transA, transB, m, n, k, alpha, a, lda, Buffer{}, b, ldb, beta, c, ldc, gemmBatch{})
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
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	return need("sgemm", matrix("A", a, ar, ac, lda), matrix("B", b, br, bc, ldb), matrix("C", c, m, n, ldc))
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
	grid := dim3{(n + gemmTile - 1) / gemmTile, (m + gemmTile - 1) / gemmTile, count}
	return d.launch(name, grid, dim3{gemmBlockThreads, 1, 1}, 0, mode, m, n, k, alpha,
		a, lda, int64(bt.aOuter), int64(bt.aInner), mask,
		b, ldb, int64(bt.bOuter), int64(bt.bInner),
		beta, c, ldc, int64(bt.cOuter), int64(bt.cInner), nInner)
}

// gemmCublasBatch runs the products of bt through cuBLAS's strided batched
// GEMM: one call per outer index, the inner ones a stride apart (or the
// other way round when that makes fewer calls), since the attention
// layouts have two strides and cuBLAS takes one.
func (d *Device) gemmCublasBatch(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int,
	b Buffer, ldb int, beta float32, c Buffer, ldc int, bt gemmBatch) error {
	nInner := max(bt.nInner, 1)
	nOuter := max(bt.count, 1) / nInner
	at := func(x Buffer, off int) Buffer { return x.Slice(off, x.n-off) }
	if nOuter <= nInner {
		for o := range nOuter {
			if err := d.blas.sgemmStrided(transA, transB, m, n, k, alpha, at(a, o*bt.aOuter), lda, bt.aInner,
				at(b, o*bt.bOuter), ldb, bt.bInner, beta, at(c, o*bt.cOuter), ldc, bt.cInner, nInner); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range nInner {
		if err := d.blas.sgemmStrided(transA, transB, m, n, k, alpha, at(a, i*bt.aInner), lda, bt.aOuter,
			at(b, i*bt.bInner), ldb, bt.bOuter, beta, at(c, i*bt.cInner), ldc, bt.cOuter, nOuter); err != nil {
			return err
		}
	}
	return nil
}
