// driver.cpp: a CPU stand-in for libcuda.so.1 with the entry points
// kernels/cuda_driver.go loads. Memory is host memory (filled with NaN when
// allocated, so a kernel that reads what nobody wrote shows it); launches
// run the kernels compiled from kernels/*.cu with emu.h, synchronously.
#include "emu.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <sys/mman.h>

#include "fiber.h"

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
EmuBlock emu_block;

namespace {
struct Kernel {
    void *fn;
    EmuTramp tramp;
};
std::map<std::string, Kernel> &kernels()
{
    static std::map<std::string, Kernel> k;
    return k;
}
std::vector<unsigned char> dynsmem;
} // namespace

void emu_register(const char *name, void *fn, EmuTramp tramp) { kernels()[name] = Kernel{fn, tramp}; }

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
enum {
    OK = 0,
    INVALID_VALUE = 1,
    NOT_FOUND = 500,
};

// The threads of a block are fibers (fiber.h) on the thread that launches
// it: the block's scheduler resumes, in order, each thread that is not
// waiting, and a thread runs until it reaches a barrier or exits. A barrier
// lets its threads go on once every thread of its scope (the block, or the
// caller's warp) that has not exited has reached it, as std::barrier's
// arrive_and_wait and arrive_and_drop do. With an OS thread per CUDA
// thread, every barrier took a round of wake-ups across the block, and the
// emulator spent most of its time in the operating system's scheduler, several times
// more on a loaded machine. A block whose threads all wait while none can
// go on (a barrier some threads skip) is reported and aborts the process.
namespace {
enum class Wait { none, block, warp, done };
struct Fiber {
    FiberContext ctx;
    unsigned char *stack;
    Wait wait;
};
struct Barrier {
    int expected, arrived;
};
constexpr size_t stack_size = size_t(512) << 10;
std::vector<Fiber> fibers; // grown to the largest block, stacks kept
FiberContext scheduler;
int running; // the fiber that runs
Barrier block_bar;
std::vector<Barrier> warp_bars;
std::vector<float> slots; // 32 a warp
struct {
    const Kernel *k;
    void **params;
    int nt;
} cur;

dim3 thread_index(int t)
{
    return dim3{unsigned(t % blockDim.x), unsigned(t / blockDim.x % blockDim.y), unsigned(t / (blockDim.x * blockDim.y))};
}

// release lets the threads waiting on bar (of kind, threads [lo, hi)) go on.
void release(Barrier &bar, Wait kind, int lo, int hi)
{
    bar.arrived = 0;
    for (int t = lo; t < hi; t++) {
        if (fibers[t].wait == kind) {
            fibers[t].wait = Wait::none;
        }
    }
}

void arrive(Barrier &bar, Wait kind, int lo, int hi)
{
    Fiber &f = fibers[running];
    if (++bar.arrived == bar.expected) {
        release(bar, kind, lo, hi);
        return;
    }
    f.wait = kind;
    fiber_switch(f.ctx, scheduler);
}

void drop(Barrier &bar, Wait kind, int lo, int hi)
{
    if (--bar.expected == bar.arrived && bar.arrived > 0) {
        release(bar, kind, lo, hi);
    }
}

int warp_lo(int t) { return t / 32 * 32; }
int warp_hi(int t) { return std::min(cur.nt, warp_lo(t) + 32); }

void fiber_main()
{
    const int t = running;
    cur.k->tramp(cur.k->fn, cur.params);
    drop(warp_bars[t / 32], Wait::warp, warp_lo(t), warp_hi(t));
    drop(block_bar, Wait::block, 0, cur.nt);
    fibers[t].wait = Wait::done;
    fiber_switch(fibers[t].ctx, scheduler); // never resumed
}

void grow_fibers(int nt)
{
    while (int(fibers.size()) < nt) {
        void *m = mmap(nullptr, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            perror("cuda-emu: a thread's stack");
            abort();
        }
        mprotect(m, 4096, PROT_NONE); // a guard page below the stack
        fibers.push_back(Fiber{{}, static_cast<unsigned char *>(m), Wait::done});
    }
}
} // namespace

void emu_sync_block() { arrive(block_bar, Wait::block, 0, cur.nt); }

void emu_sync_warp()
{
    const int t = running;
    arrive(warp_bars[t / 32], Wait::warp, warp_lo(t), warp_hi(t));
}

// start makes threads [0, nt) fibers that will run the kernel from its start.
static void start(int nt)
{
    grow_fibers(nt);
    for (int t = 0; t < nt; t++) {
        Fiber &f = fibers[t];
        fiber_make(f.ctx, f.stack, stack_size, fiber_main);
        f.wait = Wait::none;
    }
}

static void run_block(const Kernel &k, void **params, dim3 b)
{
    const int nt = blockDim.x * blockDim.y * blockDim.z, nw = (nt + 31) / 32;
    cur.k = &k;
    cur.params = params;
    cur.nt = nt;
    block_bar = Barrier{nt, 0};
    warp_bars.assign(nw, Barrier{});
    for (int w = 0; w < nw; w++) {
        warp_bars[w].expected = std::min(32, nt - 32 * w);
    }
    slots.resize(32 * nw);
    std::fill(dynsmem.begin(), dynsmem.end(), 0xff);
    emu_block = EmuBlock{slots.data(), dynsmem.data()};
    blockIdx = b;
    start(nt);
    for (int done = 0; done < nt;) {
        bool ran = false;
        done = 0;
        for (int t = 0; t < nt; t++) {
            if (fibers[t].wait == Wait::none) {
                running = t;
                threadIdx = thread_index(t);
                fiber_switch(scheduler, fibers[t].ctx);
                ran = true;
            }
            done += fibers[t].wait == Wait::done;
        }
        if (!ran && done < nt) {
            fprintf(stderr, "cuda-emu: block (%u,%u,%u): %d of %d threads wait at a barrier the others never reach\n", b.x,
                    b.y, b.z, nt - done, nt);
            abort();
        }
    }
}

// The context current on the calling thread: calls that work on the device
// fail without one, as the driver's do (CUDA_ERROR_INVALID_CONTEXT), so a
// caller that loses its binding when the Go runtime moves it to another
// thread is caught here.
thread_local void *current;
#define NEED_CONTEXT                                                                                                  \
    if (current == nullptr) {                                                                                         \
        return 201;                                                                                                   \
    }

extern "C" {
CUresult cuInit(unsigned) { return OK; }
CUresult cuDriverGetVersion(int *v)
{
    *v = 11080;
    return OK;
}
CUresult cuDeviceGetCount(int *n)
{
    *n = 1;
    return OK;
}
CUresult cuDeviceGet(int *d, int) { return *d = 0, OK; }
CUresult cuDeviceGetName(char *s, int n, int)
{
    snprintf(s, n, "CPU emulator of kernels/*.cu");
    return OK;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int)
{
    switch (attr) {
    case 16: *v = 2; break;  // multiprocessors: short grid-stride grids
    case 38: *v = 0; break;  // L2
    case 75: *v = 9; break;  // compute capability 9.0
    case 76: *v = 0; break;
    default: *v = 0;
    }
    return OK;
}
CUresult cuDeviceTotalMem_v2(size_t *b, int) { return *b = size_t(8) << 30, OK; }
CUresult cuDevicePrimaryCtxRetain(void **c, int) { return *c = (void *)1, OK; }
CUresult cuDevicePrimaryCtxSetFlags_v2(int, unsigned) { return OK; }
CUresult cuCtxSetCurrent(void *c) { return current = c, OK; }
CUresult cuModuleLoadDataEx(void **m, const void *, unsigned, int *, void **)
{
    NEED_CONTEXT
    return *m = (void *)1, OK;
}
CUresult cuModuleGetFunction(void **f, void *, const char *name)
{
    auto it = kernels().find(name);
    if (it == kernels().end()) {
        return NOT_FOUND;
    }
    *f = &it->second;
    return OK;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, void *, void **params, void **)
{
    NEED_CONTEXT
    const Kernel &k = *static_cast<Kernel *>(f);
    if (bx * by * bz > 1024 || shmem > 48 * 1024) {
        return INVALID_VALUE;
    }
    gridDim = dim3{gx, gy, gz};
    blockDim = dim3{bx, by, bz};
    dynsmem.assign(shmem, 0xff);
    for (unsigned z = 0; z < gz; z++) {
        for (unsigned y = 0; y < gy; y++) {
            for (unsigned x = 0; x < gx; x++) {
                run_block(k, params, dim3{x, y, z});
            }
        }
    }
    return OK;
}
// out_of_memory is the test hook CUDA_EMU_ALLOCS="N" (or "N:tag"): N more
// allocations succeed, then every one fails with CUDA_ERROR_OUT_OF_MEMORY,
// so that tests can run a GPU out of memory at any point; a new value (say
// another tag) starts the count again; unset or empty: no limit.
static bool out_of_memory()
{
    static std::mutex mu;
    static std::string seen;
    static long left;
    std::lock_guard<std::mutex> lock(mu);
    const char *v = getenv("CUDA_EMU_ALLOCS");
    if (v == nullptr || *v == 0) {
        seen.clear();
        return false;
    }
    if (seen != v) {
        seen = v;
        left = atol(v);
    }
    if (left <= 0) {
        return true;
    }
    left--;
    return false;
}

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n)
{
    NEED_CONTEXT
    if (out_of_memory()) {
        return 2; // CUDA_ERROR_OUT_OF_MEMORY
    }
    void *m = aligned_alloc(256, (n + 255) / 256 * 256);
    if (m == nullptr) {
        return 2; // CUDA_ERROR_OUT_OF_MEMORY
    }
    memset(m, 0xff, n); // NaN
    *p = (CUdeviceptr)m;
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p)
{
    NEED_CONTEXT
    free((void *)p);
    return OK;
}
CUresult cuMemGetInfo_v2(size_t *f, size_t *t)
{
    NEED_CONTEXT
    *f = *t = size_t(8) << 30;
    return OK;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n, void *)
{
    NEED_CONTEXT
    return memcpy((void *)d, s, n), OK;
}
CUresult cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n, void *)
{
    NEED_CONTEXT
    return memcpy(d, (void *)s, n), OK;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, void *)
{
    NEED_CONTEXT
    return memmove((void *)d, (void *)s, n), OK;
}
CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n, void *)
{
    NEED_CONTEXT
    std::fill((unsigned *)d, (unsigned *)d + n, v);
    return OK;
}
CUresult cuStreamCreate(void **s, unsigned)
{
    NEED_CONTEXT
    return *s = (void *)1, OK;
}
CUresult cuStreamSynchronize(void *)
{
    NEED_CONTEXT
    return OK;
}
CUresult cuEventCreate(void **e, unsigned)
{
    NEED_CONTEXT
    *e = new double(0);
    return OK;
}
CUresult cuEventRecord(void *e, void *)
{
    *(double *)e = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
    return OK;
}
CUresult cuEventSynchronize(void *) { return OK; }
CUresult cuEventElapsedTime(float *ms, void *a, void *b) { return *ms = float(*(double *)b - *(double *)a), OK; }
CUresult cuEventDestroy_v2(void *e)
{
    delete (double *)e;
    return OK;
}
CUresult cuGetErrorName(CUresult r, const char **s)
{
    *s = r == NOT_FOUND ? "CUDA_ERROR_NOT_FOUND" : r == INVALID_VALUE ? "CUDA_ERROR_INVALID_VALUE" : "CUDA_ERROR";
    return OK;
}
CUresult cuGetErrorString(CUresult, const char **s)
{
    *s = "(CPU emulator)";
    return OK;
}
}
