// Sgemm: the single-precision matrix multiply every CPU op calls, plus the small
// vector helpers (dot32, axpy32) the fused kernels share. The backend is gonum's
// pure-Go BLAS by default (blas_gonum.go) or OpenBLAS with -tags openblas
// (blas_openblas.go).

package kernels

import "fmt"

// Sgemm computes C = alpha*op(A)@op(B) + beta*C on row-major matrices, where
// op(A) is m×k (A is m×k, or k×m when transA) and op(B) is k×n (B is k×n, or
// n×k when transB). lda, ldb and ldc are the row strides. As in BLAS, C is not
// read when beta is 0, and A and B are not read when alpha or k is 0.
// It panics on a negative size, a stride smaller than a row or a short slice.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	checkMatrix("C", c, m, n, ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleMatrix(c, m, n, ldc, beta)
		return
	}
	if transA {
		checkMatrix("A", a, k, m, lda)
	} else {
		checkMatrix("A", a, m, k, lda)
	}
	if transB {
		checkMatrix("B", b, n, k, ldb)
	} else {
		checkMatrix("B", b, k, n, ldb)
	}
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkMatrix panics unless s holds a rows×cols row-major matrix with row stride ld.
func checkMatrix(name string, s []float32, rows, cols, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernels: Sgemm: ld%s=%d is less than its %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernels: Sgemm: %s has %d elements, a %d×%d matrix with stride %d needs %d",
			name, len(s), rows, cols, ld, (rows-1)*ld+cols))
	}
}

// scaleMatrix sets C = beta*C, writing zeros (not reading C) when beta is 0.
func scaleMatrix(c []float32, m, n, ldc int, beta float32) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// dot32 returns the dot product of a and b[:len(a)], with four partial sums so the
// additions do not wait on each other.
func dot32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	for len(a) >= 4 && len(b) >= 4 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		a, b = a[4:], b[4:]
	}
	for i := range a {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy32 computes y[i] += alpha*x[i] for i < len(x).
func axpy32(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, xi := range x {
		y[i] += alpha * xi
	}
}
