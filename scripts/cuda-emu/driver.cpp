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
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
EmuBlock *emu_block;

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

// The threads of a block come from a pool that lives as long as the
// process: thread t of every block is pool worker t, woken by its own
// semaphore. Creating the block's threads anew for every block made the
// emulator spend most of its time in clone and exit.
namespace {
struct Worker {
    std::binary_semaphore go{0};
};
std::vector<Worker *> pool;
struct {
    const Kernel *k;
    void **params;
    dim3 b;
    std::barrier<> *bar;
    EmuWarp *warps;
    std::atomic<int> left;
    std::binary_semaphore done{0};
} cur;

void work(int t, Worker *w)
{
    for (;;) {
        w->go.acquire();
        threadIdx = dim3{unsigned(t % blockDim.x), unsigned(t / blockDim.x % blockDim.y),
                         unsigned(t / (blockDim.x * blockDim.y))};
        blockIdx = cur.b;
        cur.k->tramp(cur.k->fn, cur.params);
        cur.warps[t / 32].bar->arrive_and_drop(); // an exited thread no longer holds up barriers
        cur.bar->arrive_and_drop();
        if (cur.left.fetch_sub(1) == 1) {
            cur.done.release();
        }
    }
}
} // namespace

static void run_block(const Kernel &k, void **params, dim3 b)
{
    const int nt = blockDim.x * blockDim.y * blockDim.z, nw = (nt + 31) / 32;
    while (int(pool.size()) < nt) {
        pool.push_back(new Worker);
        std::thread(work, int(pool.size()) - 1, pool.back()).detach();
    }
    std::barrier<> bar(nt);
    std::vector<std::barrier<> *> wb;
    std::vector<EmuWarp> warps(nw);
    for (int w = 0; w < nw; w++) {
        wb.push_back(new std::barrier<>(std::min(32, nt - 32 * w)));
        warps[w].bar = wb.back();
    }
    std::fill(dynsmem.begin(), dynsmem.end(), 0xff);
    EmuBlock blk{&bar, warps.data(), dynsmem.data()};
    emu_block = &blk;
    cur.k = &k;
    cur.params = params;
    cur.b = b;
    cur.bar = &bar;
    cur.warps = warps.data();
    cur.left.store(nt);
    for (int t = 0; t < nt; t++) {
        pool[t]->go.release();
    }
    cur.done.acquire();
    for (auto *w : wb) {
        delete w;
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
