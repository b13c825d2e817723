//go:build !openblas

// The default BLAS backend: gonum's pure-Go float32 BLAS, no cgo needed.
// gonum parallelises large products over GOMAXPROCS goroutines by itself, so
// sgemm does not split them (blasSplits is false).

package kernels

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// blasSplits says whether sgemm splits large products over the worker pool.
const blasSplits = false

// vectorRows: one-row products run on the vector helpers (gemvRow), twice as
// fast as gonum's GEMM on a single row.
const vectorRows = true

// BLASName names the BLAS backend this binary was built with.
func BLASName() string { return "gonum" }

// BLASNote is "": gonum has no kernel choice to report.
func BLASNote() string { return "" }

// SetThreads does nothing on this backend: gonum sizes its own goroutine
// pool from GOMAXPROCS.
func SetThreads(int) {}

// sgemmSerial is one gonum call (gonum may still split a large product).
func sgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(trans(transA), trans(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}
