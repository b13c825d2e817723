// Block-wide reductions in a fixed order, so that a result comes out the
// same on every run.
//
// block_sum: the block-wide sum of the one-block reductions (crossentropy.cu,
// head.cu, gradnorm.cu). A tree over shared memory in a fixed order, so a
// sum comes out the same on every run. blockDim.x must be a power of two,
// s must hold blockDim.x values, and every thread of the block must call
// it; every thread gets the sum.
#pragma once

template <typename T>
__device__ __forceinline__ T block_sum(T v, T *s)
{
    s[threadIdx.x] = v;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h >>= 1) {
        if (threadIdx.x < h) {
            s[threadIdx.x] += s[threadIdx.x + h];
        }
        __syncthreads();
    }
    return s[0];
}

// block_reduce: the maximum (isMax) or the sum of v over the block
// (crossentropy.cu, decode.cu): each warp by shuffles, then the warps' values
// in order through sh (one float per warp). blockDim.x must be a multiple of
// 32, and every thread of the block must call it; every thread gets the
// result.
__device__ __forceinline__ float block_reduce(float v, bool isMax, float *sh)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float u = __shfl_xor_sync(0xffffffffu, v, o);
        v = isMax ? fmaxf(v, u) : v + u;
    }
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    __syncthreads(); // sh may still be read from the previous reduction
    if (lane == 0) {
        sh[warp] = v;
    }
    __syncthreads();
    v = sh[0];
    for (int k = 1; k < warps; k++) {
        v = isMax ? fmaxf(v, sh[k]) : v + sh[k];
    }
    return v;
}
