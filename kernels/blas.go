// Sgemm: the single-precision matrix multiply every CPU op calls, plus the
// vector helpers the fused kernels share (dot32, axpy32, in AVX2 where the CPU
// has it) and the gradient-norm helpers (SumSquares, Scale). The backend is
// gonum's pure-Go BLAS by default (blas_gonum.go) or OpenBLAS with -tags
// openblas (blas_openblas.go), which runs single-threaded: sgemm splits large
// products over the worker pool (parallel_cpu.go) itself.

package kernels

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"gptctl/kernels/internal/simd"
)

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
	if m == 1 && !transA {
		gemvRow(transB, n, k, alpha, a, b, ldb, beta, c)
		return
	}
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemvMinCols is the fewest columns of C one block of gemvRow computes, and
// gemvParallelWork the n*k above which it splits at all (tens of µs).
const (
	gemvMinCols      = 256
	gemvParallelWork = 1 << 17
)

// gemvRow computes a one-row product, c[:n] = alpha*a[:k]@op(B) + beta*c[:n]
// (sampling one token), in blocks of columns over the worker pool when it is
// large: such products are bound by reading B, which one core does not do
// at the memory's speed. With B transposed each column is a dot product
// (AVX2 helper; OpenBLAS's GEMM takes twice as long on a single row of
// that shape); otherwise a block is a sum of rows of B (axpy, AVX2 helper,
// twice gonum's speed) or, with OpenBLAS, one call of its own kernels
// (AVX-512 where the CPU has it).
func gemvRow(transB bool, n, k int, alpha float32, a, b []float32, ldb int, beta float32, c []float32) {
	a, c = a[:k], c[:n]
	work := func(lo, hi int) {
		switch {
		case transB: // B is n×k: column j of op(B) is row j of B
			for j := lo; j < hi; j++ {
				v := alpha * dot32(a, b[j*ldb:j*ldb+k])
				if beta != 0 {
					v += beta * c[j]
				}
				c[j] = v
			}
		case !vectorRows:
			sgemmSerial(false, false, 1, hi-lo, k, alpha, a, k, b[lo:], ldb, beta, c[lo:], n)
		default:
			cs := c[lo:hi]
			switch beta {
			case 0:
				clear(cs)
			case 1:
			default:
				scal32(beta, cs)
			}
			for l, al := range a {
				axpy32(alpha*al, b[l*ldb+lo:l*ldb+hi], cs)
			}
		}
	}
	if chunks := min(Threads(), n/gemvMinCols); chunks >= 2 && int64(n)*int64(k) >= gemvParallelWork {
		parallelRanges(n, chunks, work)
		return
	}
	work(0, n)
}

// sgemmMinChunk is the fewest rows (or columns) of C one block computes:
// every block repacks the whole of the other operand, so thinner blocks cost
// more in packing than they gain in balance.
const sgemmMinChunk = 128

// sgemmChunksPerThread is how many blocks each goroutine gets on average: with
// a core busy elsewhere, the other goroutine takes the blocks it leaves.
const sgemmChunksPerThread = 4

// sgemmParallelWork is the m*n*k above which a product is split at all
// (about 100 µs on one core).
const sgemmParallelWork = 1 << 21

// sgemm splits C into blocks of rows, or of columns when C is wider than it
// is tall, and runs one single-threaded BLAS call per block on the worker
// pool. Splitting along the longer side repacks the smaller operand once per
// block. On one thread it makes one call.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	chunks := min(sgemmChunksPerThread*Threads(), max(m, n)/sgemmMinChunk)
	if !blasSplits || Threads() < 2 || chunks < 2 || int64(m)*int64(n)*int64(k) < sgemmParallelWork {
		sgemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	t := gemmPool.Get().(*gemmTask)
	*t = gemmTask{transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, chunks}
	parallelDo(chunks, t)
	*t = gemmTask{}
	gemmPool.Put(t)
}

// gemmTask is one split product; run(i) computes block i of C.
type gemmTask struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc, chunks    int
}

var gemmPool = sync.Pool{New: func() any { return new(gemmTask) }}

func (t *gemmTask) run(i int) {
	if t.m >= t.n { // blocks of rows: op(A) rows lo..hi are A's rows, or its columns when transA
		lo, hi := split(i, t.m, t.chunks), split(i+1, t.m, t.chunks)
		aOff := lo * t.lda
		if t.transA {
			aOff = lo
		}
		sgemmSerial(t.transA, t.transB, hi-lo, t.n, t.k, t.alpha, t.a[aOff:], t.lda, t.b, t.ldb, t.beta, t.c[lo*t.ldc:], t.ldc)
		return
	}
	lo, hi := split(i, t.n, t.chunks), split(i+1, t.n, t.chunks) // blocks of columns: op(B) columns lo..hi
	bOff := lo
	if t.transB {
		bOff = lo * t.ldb
	}
	sgemmSerial(t.transA, t.transB, t.m, hi-lo, t.k, t.alpha, t.a, t.lda, t.b[bOff:], t.ldb, t.beta, t.c[lo:], t.ldc)
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

// dot32 returns the dot product of a and b[:len(a)], with partial sums so the
// additions do not wait on each other.
func dot32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	if n := len(a) &^ 7; hasAVX2 && n > 0 {
		s0 = simd.Dot(&a[0], &b[0], n)
		a, b = a[n:], b[n:]
	}
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
	if n := len(x) &^ 7; hasAVX2 && n > 0 {
		simd.Axpy(alpha, &x[0], &y[0], n)
		x, y = x[n:], y[n:]
	}
	for i, xi := range x {
		y[i] += alpha * xi
	}
}

// sumSqBlock is the run of elements whose squares are summed in float32
// before going into the float64 total.
const sumSqBlock = 1024

// SumSquares returns the sum of x[i]² in float64 (float32 partial sums over
// runs of 1024), split over the worker pool for long x; the blocks are added
// in order, so the result does not depend on the thread count.
func SumSquares(x []float32) float64 {
	nb := min(64, blocks(len(x), 1<<16))
	if nb <= 1 {
		return sumSquares(x)
	}
	var part [64]float64
	parallelFor(nb, func(i int) { part[i] = sumSquares(x[split(i, len(x), nb):split(i+1, len(x), nb)]) })
	s := 0.0
	for _, p := range part[:nb] {
		s += p
	}
	return s
}

func sumSquares(x []float32) float64 {
	s := 0.0
	for len(x) > 0 {
		r := x[:min(len(x), sumSqBlock)]
		b := float64(dot32(r, r))
		if math.IsInf(b, 1) { // float32 squares overflowed: take the block in double, as the GPU twin does
			b = 0
			for _, v := range r {
				b += float64(v) * float64(v)
			}
		}
		s += b
		x = x[len(r):]
	}
	return s
}

// Scale multiplies x by a in place, split over the worker pool for long x.
func Scale(x []float32, a float32) {
	if blocks(len(x), 1<<16) <= 1 {
		scal32(a, x)
		return
	}
	parallelRanges(len(x), blocks(len(x), 1<<16), func(lo, hi int) { scal32(a, x[lo:hi]) })
}

// ScaleInto sets y[i] = a*x[i], or with add y[i] += a*x[i], rounding each
// product then each sum as a plain loop does (not fused), split over the
// worker pool for long x.
func ScaleInto(y, x []float32, a float32, add bool) {
	y = y[:len(x)]
	scale := func(lo, hi int) {
		yb := y[lo:hi]
		if add {
			for i, v := range x[lo:hi] {
				yb[i] += float32(a * v)
			}
			return
		}
		for i, v := range x[lo:hi] {
			yb[i] = a * v
		}
	}
	if nb := blocks(len(x), 1<<16); nb > 1 {
		parallelRanges(len(x), nb, scale)
		return
	}
	scale(0, len(x))
}

// coreTypeNote is the log line for an OpenBLAS whose kernel set, core (as
// openblas_get_corename says it), was forced by OPENBLAS_CORETYPE=env to one
// without AVX-512 on a CPU that has it (avx512): its products run at about
// half the speed the CPU allows (sgemm 101 GFLOP/s with Haswell's kernels,
// 192 with SkylakeX's, on one core of an AMD EPYC with AVX-512). "" when env
// is unset (gptctl then chooses), the CPU lacks AVX-512, or the kernels use
// it.
func coreTypeNote(env, core string, avx512 bool) string {
	switch strings.ToLower(core) {
	case "skylakex", "cooperlake", "sapphirerapids":
		return ""
	}
	if env == "" || !avx512 {
		return ""
	}
	return fmt.Sprintf("OPENBLAS_CORETYPE=%s in the environment holds OpenBLAS to its %s kernels on a CPU with AVX-512; "+
		"unset it (gptctl then picks SkylakeX) for faster matrix products (gptctl bench prints sgemm_gflops to compare)", env, core)
}
