//go:build cuda

// cuBLAS, loaded at run time: the newest of libcublas.so.13, .12 and .11
// that the machine has, from the library path, a CUDA toolkit folder or a
// Python package (site-packages/nvidia/cublas/lib, nvidia/cu13/lib). One
// binary built against CUDA 11.8 so runs with newer toolkits. Without one,
// the Linear launchers use gemm.cu's kernel.
//
// GPTCTL_CUBLAS=off skips cuBLAS; GPTCTL_CUBLAS=PATH (a file or a folder)
// is tried first.

package kernels

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <stdint.h>

typedef uintptr_t cublasHandle_t; // a pointer to cuBLAS, an integer to Go

static int (*p_cublasCreate)(cublasHandle_t *);
static int (*p_cublasSetStream)(cublasHandle_t, uintptr_t);
static int (*p_cublasSetMathMode)(cublasHandle_t, int);
static int (*p_cublasGetVersion)(cublasHandle_t, int *);
static int (*p_cublasSgemm)(cublasHandle_t, int, int, int, int, int, const float *, const float *, int,
                            const float *, int, const float *, float *, int);
static int (*p_cublasSgemmStridedBatched)(cublasHandle_t, int, int, int, int, int, const float *, const float *,
                                          int, long long, const float *, int, long long, const float *, float *,
                                          int, long long, int);
static int (*p_cublasGemmEx)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int, int,
                             const void *, int, int, const void *, void *, int, int, int, int);
static int (*p_cublasGemmStridedBatchedEx)(cublasHandle_t, int, int, int, int, int, const void *, const void *,
                                           int, int, long long, const void *, int, int, long long, const void *,
                                           void *, int, int, long long, int, int, int);
static void *gb_lib;

#define GB_SYM(p, name) if ((*(void **)&(p) = dlsym(h, name)) == NULL) { dlclose(h); return "no " name " in it"; }

// gb_open loads cuBLAS from path (a file or a soname), after its cublasLt
// from lt when lt is not empty; it returns NULL or why it failed.
static const char *gb_open(const char *path, const char *lt) {
	if (lt[0] != 0) dlopen(lt, RTLD_NOW | RTLD_GLOBAL); // a failure shows when cuBLAS loads
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) return dlerror();
	GB_SYM(p_cublasCreate, "cublasCreate_v2")
	GB_SYM(p_cublasSetStream, "cublasSetStream_v2")
	GB_SYM(p_cublasSetMathMode, "cublasSetMathMode")
	GB_SYM(p_cublasGetVersion, "cublasGetVersion_v2")
	GB_SYM(p_cublasSgemm, "cublasSgemm_v2")
	GB_SYM(p_cublasSgemmStridedBatched, "cublasSgemmStridedBatched")
	GB_SYM(p_cublasGemmEx, "cublasGemmEx")
	GB_SYM(p_cublasGemmStridedBatchedEx, "cublasGemmStridedBatchedEx")
	gb_lib = h;
	return NULL;
}

// gb_path is the file the dynamic loader opened for cuBLAS.
static const char *gb_path(void) {
	struct link_map *lm = NULL;
	if (gb_lib == NULL || dlinfo(gb_lib, RTLD_DI_LINKMAP, &lm) != 0 || lm == NULL) return "";
	return lm->l_name;
}

static int gb_create(cublasHandle_t *h, uintptr_t stream, int *version) {
	int r = p_cublasCreate(h);
	if (r == 0) r = p_cublasSetStream(*h, stream);
	if (r == 0) r = p_cublasGetVersion(*h, version);
	return r;
}

static int gb_math(cublasHandle_t h, int mode) { return p_cublasSetMathMode(h, mode); }

// gb_sgemm is column-major cublasSgemm with host alpha and beta.
static int gb_sgemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha, uint64_t a, int lda,
                    uint64_t b, int ldb, float beta, uint64_t c, int ldc) {
	return p_cublasSgemm(h, ta, tb, m, n, k, &alpha, (const float *)a, lda, (const float *)b, ldb, &beta,
	                     (float *)c, ldc);
}

// gb_sgemm_strided is column-major cublasSgemmStridedBatched with host alpha
// and beta.
static int gb_sgemm_strided(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha, uint64_t a,
                            int lda, long long sa, uint64_t b, int ldb, long long sb, float beta, uint64_t c,
                            int ldc, long long sc, int count) {
	return p_cublasSgemmStridedBatched(h, ta, tb, m, n, k, &alpha, (const float *)a, lda, sa, (const float *)b,
	                                   ldb, sb, &beta, (float *)c, ldc, sc, count);
}

// gb_gemm_bf16 is column-major cublasGemmEx of bfloat16 A and B (CUDA_R_16BF)
// into float32 C (CUDA_R_32F), accumulating in float32 (CUBLAS_COMPUTE_32F),
// with count > 1 the strided batched form.
static int gb_gemm_bf16(cublasHandle_t h, int ta, int tb, int m, int n, int k, float alpha, uint64_t a, int lda,
                        long long sa, uint64_t b, int ldb, long long sb, float beta, uint64_t c, int ldc,
                        long long sc, int count) {
	if (count <= 1)
		return p_cublasGemmEx(h, ta, tb, m, n, k, &alpha, (const void *)a, 14, lda, (const void *)b, 14, ldb, &beta,
		                      (void *)c, 0, ldc, 68, -1);
	return p_cublasGemmStridedBatchedEx(h, ta, tb, m, n, k, &alpha, (const void *)a, 14, lda, sa, (const void *)b,
	                                    14, ldb, sb, &beta, (void *)c, 0, ldc, sc, count, 68, -1);
}
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"
)

// cublas is a cuBLAS handle bound to the device's stream.
type cublas struct {
	h       C.cublasHandle_t
	path    string
	version int
}

// CuBLAS names the library the products go to, as BLASName does the CPU's:
// "cublas/12.4.5", or "gemm.cu" when no cuBLAS was loaded.
func (d *Device) CuBLAS() string {
	if d.blas == nil {
		return "gemm.cu"
	}
	v := d.blas.version
	return fmt.Sprintf("cublas/%d.%d.%d", v/10000, v/100%100, v%100)
}

// cublasVersions are the sonames tried, newest first.
var cublasVersions = []string{"13", "12", "11"}

// openCublas loads cuBLAS and returns nil with a description of the GEMM
// the launchers will use when it cannot.
func openCublas(stream uintptr) (*cublas, string) {
	env := os.Getenv("GPTCTL_CUBLAS")
	if env == "off" {
		return nil, "own GEMM kernel (GPTCTL_CUBLAS=off)"
	}
	var tried []string
	for _, path := range cublasCandidates(env) {
		msg := cublasLoad(path)
		if msg != "" {
			tried = append(tried, msg)
			continue
		}
		b := &cublas{path: C.GoString(C.gb_path())}
		var v C.int
		err := onDevice(func() error {
			if r := C.gb_create(&b.h, C.uintptr_t(stream), &v); r != 0 {
				return fmt.Errorf("cublasCreate: %w: %s", cublasStatus(r), b.path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Sprintf("own GEMM kernel (%v)", err)
		}
		b.version = int(v)
		return b, fmt.Sprintf("cuBLAS %d.%d.%d (%s)", b.version/10000, b.version/100%100, b.version%100, b.path)
	}
	why := "no libcublas.so.13, .12 or .11 found"
	if len(tried) > 0 {
		why += ": " + tried[len(tried)-1]
	}
	return nil, "own GEMM kernel (" + why + ")"
}

func cublasLoad(path string) string {
	lt := ""
	if strings.Contains(path, "/") { // load its cublasLt from the same folder first
		lt = strings.Replace(path, "libcublas.so", "libcublasLt.so", 1)
		if _, err := os.Stat(lt); err != nil {
			lt = ""
		}
	}
	cp, clt := C.CString(path), C.CString(lt)
	defer C.free(unsafe.Pointer(cp))
	defer C.free(unsafe.Pointer(clt))
	if msg := C.gb_open(cp, clt); msg != nil {
		return path + ": " + C.GoString(msg)
	}
	return ""
}

// cublasCandidates lists the files and sonames to try, newest version first:
// GPTCTL_CUBLAS, then for each version the loader's own search (LD_LIBRARY_PATH,
// ldconfig), CUDA toolkit folders and Python packages.
func cublasCandidates(env string) []string {
	var out []string
	if env != "" {
		if fi, err := os.Stat(env); err == nil && fi.IsDir() {
			for _, v := range cublasVersions {
				out = append(out, filepath.Join(env, "libcublas.so."+v))
			}
		} else {
			out = append(out, env)
		}
	}
	dirs := cublasDirs()
	for _, v := range cublasVersions {
		out = append(out, "libcublas.so."+v)
		for _, dir := range dirs {
			if p := filepath.Join(dir, "libcublas.so."+v); fileExists(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// cublasDirs lists the folders that may hold cuBLAS outside the loader's path.
func cublasDirs() []string {
	var dirs []string
	for _, e := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if v := os.Getenv(e); v != "" {
			dirs = append(dirs, filepath.Join(v, "lib64"), filepath.Join(v, "lib"))
		}
	}
	dirs = append(dirs, globAll("/usr/local/cuda/lib64", "/usr/local/cuda-*/lib64",
		"/usr/local/cuda*/targets/*-linux/lib")...)
	var sites []string
	for _, p := range filepath.SplitList(os.Getenv("PYTHONPATH")) {
		if p != "" {
			sites = append(sites, p)
		}
	}
	var prefixes []string
	for _, e := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if v := os.Getenv(e); v != "" {
			prefixes = append(prefixes, v)
		}
	}
	if h, err := os.UserHomeDir(); err == nil {
		prefixes = append(prefixes, filepath.Join(h, ".local"))
	}
	prefixes = append(prefixes, "/usr/local", "/usr", "/opt/conda", "/opt/*/.venv", "/opt/*/venv", "/opt/*")
	for _, p := range prefixes {
		sites = append(sites, globAll(p+"/lib/python3*/site-packages", p+"/lib/python3*/dist-packages")...)
	}
	sites = append(sites, "/usr/lib/python3/dist-packages")
	for _, s := range sites {
		dirs = append(dirs, globAll(s+"/nvidia/cublas/lib", s+"/nvidia/cu1*/lib")...)
	}
	return dirs
}

func globAll(patterns ...string) []string {
	var out []string
	for _, p := range patterns {
		m, _ := filepath.Glob(p)
		out = append(out, m...)
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// setTF32 lets cuBLAS use TF32 tensor cores for float32 products (math
// mode CUBLAS_TF32_TENSOR_OP_MATH), or not (CUBLAS_DEFAULT_MATH).
func (b *cublas) setTF32(on bool) error {
	mode := C.int(0)
	if on {
		mode = 3
	}
	if r := C.gb_math(b.h, mode); r != 0 {
		return fmt.Errorf("cuda: cublasSetMathMode: %w", cublasStatus(r))
	}
	return nil
}

// sgemm is kernels.Sgemm's row-major product through column-major cuBLAS:
// Cᵀ = op(B)ᵀ op(A)ᵀ, so B goes first and m and n swap.
func (b *cublas) sgemm(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda int, bb Buffer, ldb int,
	beta float32, c Buffer, ldc int) error {
	return onDevice(func() error {
		r := C.gb_sgemm(b.h, cublasOp(transB), cublasOp(transA), C.int(n), C.int(m), C.int(k), C.float(alpha),
			C.uint64_t(bb.ptr), C.int(ldb), C.uint64_t(a.ptr), C.int(lda), C.float(beta), C.uint64_t(c.ptr), C.int(ldc))
		if r != 0 {
			return fmt.Errorf("cuda: cublasSgemm m=%d n=%d k=%d: %w", m, n, k, cublasStatus(r))
		}
		return nil
	})
}

// sgemmStrided is count row-major products C_i = alpha op(A_i) op(B_i) +
// beta C_i, where X_i starts sX elements after X_{i-1}, in one call of
// cublasSgemmStridedBatched (operands swapped as in sgemm).
func (b *cublas) sgemmStrided(transA, transB bool, m, n, k int, alpha float32, a Buffer, lda, sa int,
	bb Buffer, ldb, sb int, beta float32, c Buffer, ldc, sc, count int) error {
	return onDevice(func() error {
		r := C.gb_sgemm_strided(b.h, cublasOp(transB), cublasOp(transA), C.int(n), C.int(m), C.int(k), C.float(alpha),
			C.uint64_t(bb.ptr), C.int(ldb), C.longlong(sb), C.uint64_t(a.ptr), C.int(lda), C.longlong(sa),
			C.float(beta), C.uint64_t(c.ptr), C.int(ldc), C.longlong(sc), C.int(count))
		if r != 0 {
			return fmt.Errorf("cuda: cublasSgemmStridedBatched m=%d n=%d k=%d count=%d: %w", m, n, k, count, cublasStatus(r))
		}
		return nil
	})
}

// gemmBF16 is sgemmStrided (count 1: one product) over bfloat16 copies of
// A and B: a and bb are device addresses of 16-bit values, strides and
// leading dimensions in elements; C is float32.
func (b *cublas) gemmBF16(transA, transB bool, m, n, k int, alpha float32, a uint64, lda, sa int,
	bb uint64, ldb, sb int, beta float32, c Buffer, ldc, sc, count int) error {
	return onDevice(func() error {
		r := C.gb_gemm_bf16(b.h, cublasOp(transB), cublasOp(transA), C.int(n), C.int(m), C.int(k), C.float(alpha),
			C.uint64_t(bb), C.int(ldb), C.longlong(sb), C.uint64_t(a), C.int(lda), C.longlong(sa),
			C.float(beta), C.uint64_t(c.ptr), C.int(ldc), C.longlong(sc), C.int(count))
		if r != 0 {
			return fmt.Errorf("cuda: cublasGemmEx (bf16) m=%d n=%d k=%d count=%d: %w", m, n, k, count, cublasStatus(r))
		}
		return nil
	})
}

// cublasStatus is a cublasStatus_t that is not CUBLAS_STATUS_SUCCESS, as an
// error naming it; CUBLAS_STATUS_ALLOC_FAILED matches ErrDeviceMemory.
type cublasStatus C.int

var cublasStatusNames = map[cublasStatus]string{1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
	13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR"}

func (s cublasStatus) Error() string {
	if name, ok := cublasStatusNames[s]; ok {
		return name
	}
	return fmt.Sprintf("cuBLAS status %d", int(s))
}

// Is makes CUBLAS_STATUS_ALLOC_FAILED match ErrDeviceMemory.
func (s cublasStatus) Is(target error) bool { return target == ErrDeviceMemory && s == 3 }

// cublasOp is CUBLAS_OP_T for a transposed operand, else CUBLAS_OP_N.
func cublasOp(t bool) C.int {
	if t {
		return 1
	}
	return 0
}
