//go:build openblas

// The OpenBLAS backend (-tags openblas): cblas_sgemm through cgo. OpenBLAS
// starts with one thread, because its idle threads busy-wait and steal cores
// from everything else; SetThreads raises it.

package kernels

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

func init() { SetThreads(1) }

// BLASName names the BLAS backend this binary was built with.
func BLASName() string { return "openblas" }

// SetThreads sets the number of threads OpenBLAS may use (at least 1).
func SetThreads(n int) { C.openblas_set_num_threads(C.int(max(n, 1))) }

// parallelFlops is the work (m*n*k) above which sgemm splits the rows of C
// across goroutines, each calling single-threaded OpenBLAS on its block.
// Goroutines sleep while they wait; OpenBLAS's own threads would spin.
const parallelFlops = 1 << 17

func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	workers := min(runtime.GOMAXPROCS(0), m/8)
	if workers < 2 || m*n*k < parallelFlops {
		sgemmBlock(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := m*w/workers, m*(w+1)/workers
		aOff := lo * lda // op(A) rows lo..hi are A's rows, or A's columns when transA
		if transA {
			aOff = lo
		}
		wg.Go(func() {
			sgemmBlock(transA, transB, hi-lo, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
	}
	wg.Wait()
}

func sgemmBlock(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	C.cblas_sgemm(C.CblasRowMajor, trans(transA), trans(transB),
		C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}

func trans(t bool) C.enum_CBLAS_TRANSPOSE {
	if t {
		return C.CblasTrans
	}
	return C.CblasNoTrans
}
