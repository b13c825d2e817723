//go:build gpu

// The CUDA driver API, loaded at run time. The binary does not link
// libcuda: it opens libcuda.so.1 with dlopen when a device is first asked
// for, so a cuda build starts on any machine and falls back to the CPU when
// the library, the GPU or a working driver is missing. (gorgonia.org/cu links
// libcuda and calls cuInit in its package init, exiting the process when that
// fails; see cuda.go.) The types are declared here, so the build needs no
// CUDA headers either; the _v2 entry points are the ones cuda.h has mapped
// the plain names to since CUDA 4.0 and every driver still exports.
//
// Contexts are per OS thread and goroutines move between threads: every C
// wrapper that works on the device binds the device's primary context to its
// thread first (gc_bind, a no-op when it is already bound).

package kernels

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef int CUresult;
typedef int CUdevice;
// Handles are pointers to the driver, plain integers to Go (whose garbage
// collector must not take them for pointers); the calling convention is
// the same.
typedef uintptr_t CUcontext;
typedef uintptr_t CUmodule;
typedef uintptr_t CUfunction;
typedef uintptr_t CUstream;
typedef uintptr_t CUevent;
typedef unsigned long long CUdeviceptr;

static void *gc_lib;
static CUresult (*p_cuInit)(unsigned);
static CUresult (*p_cuDriverGetVersion)(int *);
static CUresult (*p_cuDeviceGetCount)(int *);
static CUresult (*p_cuDeviceGet)(CUdevice *, int);
static CUresult (*p_cuDeviceGetName)(char *, int, CUdevice);
static CUresult (*p_cuDeviceGetAttribute)(int *, int, CUdevice);
static CUresult (*p_cuDeviceTotalMem)(size_t *, CUdevice);
static CUresult (*p_cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
static CUresult (*p_cuDevicePrimaryCtxSetFlags)(CUdevice, unsigned); // optional
static CUresult (*p_cuCtxSetCurrent)(CUcontext);
static CUresult (*p_cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
static CUresult (*p_cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
static CUresult (*p_cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                    unsigned, CUstream, void **, void **);
static CUresult (*p_cuMemAlloc)(CUdeviceptr *, size_t);
static CUresult (*p_cuMemFree)(CUdeviceptr);
static CUresult (*p_cuMemGetInfo)(size_t *, size_t *);
static CUresult (*p_cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
static CUresult (*p_cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
static CUresult (*p_cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
static CUresult (*p_cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
static CUresult (*p_cuStreamCreate)(CUstream *, unsigned);
static CUresult (*p_cuStreamSynchronize)(CUstream);
static CUresult (*p_cuEventCreate)(CUevent *, unsigned);
static CUresult (*p_cuEventRecord)(CUevent, CUstream);
static CUresult (*p_cuEventSynchronize)(CUevent);
static CUresult (*p_cuEventElapsedTime)(float *, CUevent, CUevent);
static CUresult (*p_cuEventDestroy)(CUevent);
static CUresult (*p_cuGetErrorName)(CUresult, const char **);
static CUresult (*p_cuGetErrorString)(CUresult, const char **);

#define GC_SYM(p, name) if ((*(void **)&(p) = dlsym(gc_lib, name)) == NULL) return "libcuda.so.1 has no " name;

// gc_open loads the driver library; it returns NULL or why it failed.
static const char *gc_open(void) {
	// The loader's search first, then driver folders that may be missing
	// from it (containers mount the driver under /usr/local/nvidia).
	static const char *names[] = {"libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1",
	                              "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1",
	                              "/usr/lib/wsl/lib/libcuda.so.1", "libcuda.so"};
	static char first[512];
	if (gc_lib != NULL) return NULL;
	for (size_t i = 0; i < sizeof names / sizeof names[0] && gc_lib == NULL; i++) {
		gc_lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (gc_lib == NULL && i == 0) snprintf(first, sizeof first, "%s", dlerror()); // the error that matters
	}
	if (gc_lib == NULL) return first;
	GC_SYM(p_cuInit, "cuInit")
	GC_SYM(p_cuDriverGetVersion, "cuDriverGetVersion")
	GC_SYM(p_cuDeviceGetCount, "cuDeviceGetCount")
	GC_SYM(p_cuDeviceGet, "cuDeviceGet")
	GC_SYM(p_cuDeviceGetName, "cuDeviceGetName")
	GC_SYM(p_cuDeviceGetAttribute, "cuDeviceGetAttribute")
	GC_SYM(p_cuDeviceTotalMem, "cuDeviceTotalMem_v2")
	GC_SYM(p_cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
	*(void **)&p_cuDevicePrimaryCtxSetFlags = dlsym(gc_lib, "cuDevicePrimaryCtxSetFlags_v2");
	GC_SYM(p_cuCtxSetCurrent, "cuCtxSetCurrent")
	GC_SYM(p_cuModuleLoadDataEx, "cuModuleLoadDataEx")
	GC_SYM(p_cuModuleGetFunction, "cuModuleGetFunction")
	GC_SYM(p_cuLaunchKernel, "cuLaunchKernel")
	GC_SYM(p_cuMemAlloc, "cuMemAlloc_v2")
	GC_SYM(p_cuMemFree, "cuMemFree_v2")
	GC_SYM(p_cuMemGetInfo, "cuMemGetInfo_v2")
	GC_SYM(p_cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2")
	GC_SYM(p_cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2")
	GC_SYM(p_cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2")
	GC_SYM(p_cuMemsetD32Async, "cuMemsetD32Async")
	GC_SYM(p_cuStreamCreate, "cuStreamCreate")
	GC_SYM(p_cuStreamSynchronize, "cuStreamSynchronize")
	GC_SYM(p_cuEventCreate, "cuEventCreate")
	GC_SYM(p_cuEventRecord, "cuEventRecord")
	GC_SYM(p_cuEventSynchronize, "cuEventSynchronize")
	GC_SYM(p_cuEventElapsedTime, "cuEventElapsedTime")
	GC_SYM(p_cuEventDestroy, "cuEventDestroy_v2")
	GC_SYM(p_cuGetErrorName, "cuGetErrorName")
	GC_SYM(p_cuGetErrorString, "cuGetErrorString")
	return NULL;
}

static CUcontext gc_ctx;
static __thread CUcontext gc_bound;

// gc_bind makes the device's context current on this thread (cuBLAS's shim
// in cuda_cublas.go calls it too).
CUresult gc_bind(void) {
	if (gc_bound == gc_ctx && gc_ctx != 0) return 0;
	CUresult r = p_cuCtxSetCurrent(gc_ctx);
	if (r == 0) gc_bound = gc_ctx;
	return r;
}

static CUresult gc_init(void) { return p_cuInit(0); }
static CUresult gc_driver_version(int *v) { return p_cuDriverGetVersion(v); }
static CUresult gc_device_count(int *n) { return p_cuDeviceGetCount(n); }
static CUresult gc_device_get(CUdevice *d, int ordinal) { return p_cuDeviceGet(d, ordinal); }
static CUresult gc_device_name(char *s, int n, CUdevice d) { return p_cuDeviceGetName(s, n, d); }
static CUresult gc_device_attr(int *v, int attr, CUdevice d) { return p_cuDeviceGetAttribute(v, attr, d); }
static CUresult gc_device_mem(size_t *v, CUdevice d) { return p_cuDeviceTotalMem(v, d); }

// gc_ctx_open makes the device's primary context current. Threads waiting
// on the device sleep (CU_CTX_SCHED_BLOCKING_SYNC) rather than spin: the
// host stays free on a shared machine, for the cost of a wake-up per wait.
static CUresult gc_ctx_open(CUdevice d) {
	if (p_cuDevicePrimaryCtxSetFlags != NULL) p_cuDevicePrimaryCtxSetFlags(d, 0x04); // best effort
	CUresult r = p_cuDevicePrimaryCtxRetain(&gc_ctx, d);
	if (r != 0) return r;
	gc_bound = 0;
	return gc_bind();
}

// gc_module_load JIT-compiles PTX text (NUL-terminated); on failure the
// compiler's log is in log.
static CUresult gc_module_load(CUmodule *m, const char *ptx, char *log, int logSize) {
	CUresult r = gc_bind();
	if (r != 0) return r;
	int opts[2] = {5, 6}; // CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
	void *vals[2] = {log, (void *)(uintptr_t)logSize};
	return p_cuModuleLoadDataEx(m, ptx, 2, opts, vals);
}

static CUresult gc_function(CUfunction *f, CUmodule m, const char *name) {
	return p_cuModuleGetFunction(f, m, name);
}

// gc_launch launches f with nargs parameters, each in an 8-byte slot of
// args (a 4-byte parameter reads the low half of its slot).
static CUresult gc_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                          unsigned bz, unsigned shmem, CUstream s, uint64_t *args, int nargs) {
	void *params[32];
	if (nargs > 32) return 1; // CUDA_ERROR_INVALID_VALUE
	for (int i = 0; i < nargs; i++) params[i] = &args[i];
	CUresult r = gc_bind();
	if (r != 0) return r;
	return p_cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shmem, s, params, 0);
}

static CUresult gc_alloc(CUdeviceptr *p, size_t n) {
	CUresult r = gc_bind();
	return r != 0 ? r : p_cuMemAlloc(p, n);
}
static CUresult gc_free(CUdeviceptr p) {
	CUresult r = gc_bind();
	return r != 0 ? r : p_cuMemFree(p);
}
static CUresult gc_mem_info(size_t *free, size_t *total) {
	CUresult r = gc_bind();
	return r != 0 ? r : p_cuMemGetInfo(free, total);
}
static CUresult gc_htod(CUdeviceptr dst, const void *src, size_t n, CUstream s) {
	CUresult r = gc_bind();
	return r != 0 ? r : p_cuMemcpyHtoDAsync(dst, src, n, s);
}
static CUresult gc_dtoh(void *dst, CUdeviceptr src, size_t n, CUstream s) {
	CUresult r = gc_bind();
	if (r == 0) r = p_cuMemcpyDtoHAsync(dst, src, n, s);
	return r != 0 ? r : p_cuStreamSynchronize(s); // dst is Go memory: done before we return
}
static CUresult gc_dtod(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
	CUresult r = gc_bind();
	return r != 0 ? r : p_cuMemcpyDtoDAsync(dst, src, n, s);
}
static CUresult gc_memset32(CUdeviceptr dst, unsigned v, size_t n, CUstream s) {
	CUresult r = gc_bind();
	return r != 0 ? r : p_cuMemsetD32Async(dst, v, n, s);
}
static CUresult gc_stream_create(CUstream *s) {
	CUresult r = gc_bind();
	return r != 0 ? r : p_cuStreamCreate(s, 1); // CU_STREAM_NON_BLOCKING
}
static CUresult gc_sync(CUstream s) {
	CUresult r = gc_bind();
	return r != 0 ? r : p_cuStreamSynchronize(s);
}

// gc_time_start / gc_time_stop measure the stream's work between them in ms.
static CUresult gc_event_pair(CUevent *a, CUevent *b) {
	CUresult r = gc_bind();
	if (r == 0) r = p_cuEventCreate(a, 0);
	return r != 0 ? r : p_cuEventCreate(b, 0);
}
static CUresult gc_event_record(CUevent e, CUstream s) {
	CUresult r = gc_bind();
	return r != 0 ? r : p_cuEventRecord(e, s);
}
static CUresult gc_event_elapsed(float *ms, CUevent a, CUevent b) {
	CUresult r = gc_bind();
	if (r == 0) r = p_cuEventSynchronize(b);
	if (r == 0) r = p_cuEventElapsedTime(ms, a, b);
	p_cuEventDestroy(a);
	p_cuEventDestroy(b);
	return r;
}

static const char *gc_error_name(CUresult r) {
	const char *s = NULL;
	if (p_cuGetErrorName == NULL || p_cuGetErrorName(r, &s) != 0) return NULL;
	return s;
}
static const char *gc_error_string(CUresult r) {
	const char *s = NULL;
	if (p_cuGetErrorString == NULL || p_cuGetErrorString(r, &s) != 0) return NULL;
	return s;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// cuError is a failed driver call: what was being done and CUDA's own name
// and words for the result.
type cuError struct {
	op   string
	code int
}

func (e *cuError) Error() string {
	name, msg := "CUDA error", ""
	if s := C.gc_error_name(C.CUresult(e.code)); s != nil {
		name = C.GoString(s)
	}
	if s := C.gc_error_string(C.CUresult(e.code)); s != nil {
		msg = ": " + C.GoString(s)
	}
	return fmt.Sprintf("cuda: %s: %s (%d)%s", e.op, name, e.code, msg)
}

// check turns a driver result into an error naming op.
func check(op string, r C.CUresult) error {
	if r == 0 {
		return nil
	}
	return &cuError{op: op, code: int(r)}
}

// Device attributes (CUdevice_attribute).
const (
	attrMultiprocessors = 16
	attrL2Bytes         = 38
	attrCCMajor         = 75
	attrCCMinor         = 76
)

// driverOpen loads libcuda and initialises the driver.
func driverOpen() error {
	if msg := C.gc_open(); msg != nil {
		return fmt.Errorf("cuda: no usable NVIDIA driver library: %s", C.GoString(msg))
	}
	return check("cuInit", C.gc_init())
}

// driverDevice fills in d's properties from device ordinal and makes its
// primary context current.
func driverDevice(d *Device, ordinal int) error {
	var v, count C.int
	if err := check("cuDriverGetVersion", C.gc_driver_version(&v)); err != nil {
		return err
	}
	d.Driver = int(v)
	if err := check("cuDeviceGetCount", C.gc_device_count(&count)); err != nil {
		return err
	}
	if int(count) <= ordinal {
		return fmt.Errorf("cuda: the driver sees %d devices, want device %d", int(count), ordinal)
	}
	var dev C.CUdevice
	if err := check("cuDeviceGet", C.gc_device_get(&dev, C.int(ordinal))); err != nil {
		return err
	}
	var name [256]C.char
	if err := check("cuDeviceGetName", C.gc_device_name(&name[0], C.int(len(name)), dev)); err != nil {
		return err
	}
	d.Name = C.GoString(&name[0])
	for _, a := range []struct {
		attr int
		v    *int
	}{{attrCCMajor, &d.Major}, {attrCCMinor, &d.Minor}, {attrMultiprocessors, &d.SMs}, {attrL2Bytes, &d.L2Bytes}} {
		if err := check("cuDeviceGetAttribute", C.gc_device_attr(&v, C.int(a.attr), dev)); err != nil {
			return err
		}
		*a.v = int(v)
	}
	var mem C.size_t
	if err := check("cuDeviceTotalMem", C.gc_device_mem(&mem, dev)); err != nil {
		return err
	}
	d.Memory = int64(mem)
	if err := check("cuDevicePrimaryCtxRetain", C.gc_ctx_open(dev)); err != nil {
		return err
	}
	var s C.CUstream
	err := check("cuStreamCreate", C.gc_stream_create(&s))
	d.stream = uintptr(s)
	return err
}

// moduleLoad JIT-compiles one PTX module.
func moduleLoad(ptx string) (uintptr, error) {
	var m C.CUmodule
	src := C.CString(ptx)
	defer C.free(unsafe.Pointer(src))
	log := make([]byte, 8192)
	r := C.gc_module_load(&m, src, (*C.char)(unsafe.Pointer(&log[0])), C.int(len(log)))
	if r != 0 {
		err := check("cuModuleLoadDataEx", r)
		if n := clen(log); n > 0 {
			err = fmt.Errorf("%w: %s", err, log[:n])
		}
		return 0, err
	}
	return uintptr(m), nil
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

func moduleFunction(m uintptr, name string) (uintptr, error) {
	var f C.CUfunction
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	err := check("cuModuleGetFunction "+name, C.gc_function(&f, C.CUmodule(m), cs))
	return uintptr(f), err
}

// dim3 is a grid or block size.
type dim3 struct{ x, y, z int }

func driverLaunch(f uintptr, grid, block dim3, shmem int, stream uintptr, args []uint64) error {
	var p *C.uint64_t
	if len(args) > 0 {
		p = (*C.uint64_t)(unsafe.Pointer(&args[0]))
	}
	return check("cuLaunchKernel", C.gc_launch(C.CUfunction(f), C.uint(grid.x), C.uint(grid.y), C.uint(grid.z),
		C.uint(block.x), C.uint(block.y), C.uint(block.z), C.uint(shmem), C.CUstream(stream), p, C.int(len(args))))
}

func driverAlloc(bytes int) (uint64, error) {
	var p C.CUdeviceptr
	err := check(fmt.Sprintf("cuMemAlloc %d bytes", bytes), C.gc_alloc(&p, C.size_t(bytes)))
	return uint64(p), err
}

func driverFree(p uint64) error { return check("cuMemFree", C.gc_free(C.CUdeviceptr(p))) }

func driverMemInfo() (free, total int64, err error) {
	var f, t C.size_t
	err = check("cuMemGetInfo", C.gc_mem_info(&f, &t))
	return int64(f), int64(t), err
}

// driverHtoD copies bytes from host memory; it returns once src may be reused.
func driverHtoD(dst uint64, src unsafe.Pointer, bytes int, s uintptr) error {
	return check("cuMemcpyHtoDAsync", C.gc_htod(C.CUdeviceptr(dst), src, C.size_t(bytes), C.CUstream(s)))
}

// driverDtoH copies bytes to host memory and waits for the stream.
func driverDtoH(dst unsafe.Pointer, src uint64, bytes int, s uintptr) error {
	return check("cuMemcpyDtoHAsync", C.gc_dtoh(dst, C.CUdeviceptr(src), C.size_t(bytes), C.CUstream(s)))
}

func driverDtoD(dst, src uint64, bytes int, s uintptr) error {
	return check("cuMemcpyDtoDAsync", C.gc_dtod(C.CUdeviceptr(dst), C.CUdeviceptr(src), C.size_t(bytes), C.CUstream(s)))
}

func driverMemset32(dst uint64, v uint32, n int, s uintptr) error {
	return check("cuMemsetD32Async", C.gc_memset32(C.CUdeviceptr(dst), C.uint(v), C.size_t(n), C.CUstream(s)))
}

func driverSync(s uintptr) error {
	return check("cuStreamSynchronize", C.gc_sync(C.CUstream(s)))
}

// driverTimer records a start event; its stop function returns the ms between.
func driverTimer(s uintptr) (func() (float64, error), error) {
	var a, b C.CUevent
	if err := check("cuEventCreate", C.gc_event_pair(&a, &b)); err != nil {
		return nil, err
	}
	if err := check("cuEventRecord", C.gc_event_record(a, C.CUstream(s))); err != nil {
		return nil, err
	}
	return func() (float64, error) {
		if err := check("cuEventRecord", C.gc_event_record(b, C.CUstream(s))); err != nil {
			return 0, err
		}
		var ms C.float
		err := check("cuEventElapsedTime", C.gc_event_elapsed(&ms, a, b))
		return float64(ms), err
	}, nil
}
