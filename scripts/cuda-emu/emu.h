// emu.h: enough of CUDA C++ to compile kernels/*.cu as plain C++ and run
// them on the CPU, one block at a time, each CUDA thread of the block a
// fiber on the launching thread that runs until it reaches a barrier.
// Used by build.sh for the CPU emulator of the driver (driver.cpp), which
// lets the GPU twin tests run on a machine without a GPU. Not fast, and not
// a memory model: it checks indexing, barriers, reductions and launch
// arithmetic, not races.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

using std::max;
using std::min;
using std::isfinite;

inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }

// The block being run: its threads' barriers are driver.cpp's, a warp's
// exchange slots and the block's dynamic shared memory are here.
struct EmuBlock {
    float *slots; // 32 a warp
    unsigned char *dynsmem;
};
extern EmuBlock emu_block;

inline int emu_tid() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }

// emu_sync_block and emu_sync_warp return when every thread of the block
// (of the calling thread's warp) that has not exited has called them.
void emu_sync_block();
void emu_sync_warp();

inline void __syncthreads() { emu_sync_block(); }

inline void __syncwarp(unsigned = 0xffffffffu) { emu_sync_warp(); }

namespace nvcuda::wmma {
inline int emu_lane() { return emu_tid() % 32; }
}

inline float __shfl_xor_sync(unsigned, float v, int lanes)
{
    const int t = emu_tid(), lane = t % 32;
    float *slot = emu_block.slots + t / 32 * 32;
    slot[lane] = v;
    emu_sync_warp();
    float r = slot[lane ^ lanes];
    emu_sync_warp();
    return r;
}

inline float atomicAdd(float *p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }

template <typename T>
inline T *emu_dynamic_shared() { return reinterpret_cast<T *>(emu_block.dynsmem); }

// Kernel registration: emu_tramp calls a kernel with its parameters read
// from cuLaunchKernel's array of pointers, one per parameter.
typedef void (*EmuTramp)(void *fn, void **params);
template <typename... A, size_t... I>
void emu_call(void (*f)(A...), void **p, std::index_sequence<I...>) { f(*static_cast<A *>(p[I])...); }
template <typename... A>
void emu_tramp(void *fn, void **p) { emu_call(reinterpret_cast<void (*)(A...)>(fn), p, std::index_sequence_for<A...>{}); }
template <typename... A>
EmuTramp emu_tramp_for(void (*)(A...)) { return &emu_tramp<A...>; }

void emu_register(const char *name, void *fn, EmuTramp tramp);
struct EmuReg {
    EmuReg(const char *name, void *fn, EmuTramp tramp) { emu_register(name, fn, tramp); }
};
#define EMU_KERNEL(name) static EmuReg emu_reg_##name(#name, (void *)&name, emu_tramp_for(&name));
