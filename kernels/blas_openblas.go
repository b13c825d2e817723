//go:build openblas

// The OpenBLAS backend (-tags openblas): cblas_sgemm through cgo, loaded with
// dlopen at start-up so that the kernel choice can be fixed first.
//
// OpenBLAS picks its kernels from the CPU model. A CPU newer than the library
// (OpenBLAS 0.3.21 on a Sapphire or Emerald Rapids Xeon, say) falls back to
// "Prescott", SSE3 code five times slower than the AVX-512 kernels. When the
// CPU has AVX-512 and OPENBLAS_CORETYPE is not set, it is set to SkylakeX
// before the library loads; the library reads it when it initialises.
//
// OpenBLAS runs single-threaded (its idle threads busy-wait and steal cores
// from everything else): sgemm splits large products over the kernels' own
// worker goroutines, which sleep while they wait.

package kernels

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                         const float *, int, float, float *, int);
static sgemm_fn gptctl_sgemm_p;
static void (*gptctl_set_threads_p)(int);
static char *(*gptctl_corename_p)(void);

// gptctl_blas_open loads OpenBLAS and returns NULL, or dlerror's message.
static const char *gptctl_blas_open(void) {
	const char *names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblasp-r0.3.21.so"};
	void *h = NULL;
	for (size_t i = 0; i < sizeof names / sizeof names[0] && h == NULL; i++) {
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	}
	if (h == NULL) return dlerror();
	gptctl_sgemm_p = (sgemm_fn)dlsym(h, "cblas_sgemm");
	gptctl_set_threads_p = (void (*)(int))dlsym(h, "openblas_set_num_threads");
	gptctl_corename_p = (char *(*)(void))dlsym(h, "openblas_get_corename");
	if (gptctl_sgemm_p == NULL) return "libopenblas has no cblas_sgemm";
	return NULL;
}

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

static void gptctl_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc) {
	gptctl_sgemm_p(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void gptctl_set_threads(int n) {
	if (gptctl_set_threads_p) gptctl_set_threads_p(n);
}

static const char *gptctl_corename(void) {
	return gptctl_corename_p ? gptctl_corename_p() : "unknown";
}
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// blasSplits says whether sgemm splits large products over the worker pool.
const blasSplits = true

// vectorRows: one-row products without a transposed B stay with OpenBLAS's
// kernels (AVX-512 where the CPU has it), split by columns (gemvRow).
const vectorRows = false

// userCoreType is OPENBLAS_CORETYPE as the environment set it, before init.
var userCoreType = os.Getenv("OPENBLAS_CORETYPE")

// hasAVX512 says whether the CPU (and OS) run OpenBLAS's SkylakeX kernels.
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ

func init() {
	if userCoreType == "" && hasAVX512 {
		os.Setenv("OPENBLAS_CORETYPE", "SkylakeX") // with cgo this sets the C environment too
	}
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		os.Setenv("OPENBLAS_NUM_THREADS", "1") // start no OpenBLAS threads at all
	}
	if msg := C.gptctl_blas_open(); msg != nil {
		panic(fmt.Sprintf("kernels: this gptctl was built with -tags openblas but cannot load OpenBLAS: %s "+
			"(install libopenblas0, or build without the tag)", C.GoString(msg)))
	}
	SetThreads(1)
}

// BLASName names the BLAS backend this binary was built with, and the
// OpenBLAS kernel set in use.
func BLASName() string { return "openblas/" + C.GoString(C.gptctl_corename()) }

// BLASNote is a line for the logs when the environment holds OpenBLAS to
// kernels older than the CPU's, "" otherwise (see coreTypeNote).
func BLASNote() string { return coreTypeNote(userCoreType, C.GoString(C.gptctl_corename()), hasAVX512) }

// SetThreads sets the number of threads OpenBLAS may use (at least 1).
func SetThreads(n int) { C.gptctl_set_threads(C.int(max(n, 1))) }

// sgemmSerial is one single-threaded OpenBLAS call.
func sgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	C.gptctl_sgemm(cbool(transA), cbool(transB), C.int(m), C.int(n), C.int(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.int(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}

func cbool(t bool) C.int {
	if t {
		return 1
	}
	return 0
}
