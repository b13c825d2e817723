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
