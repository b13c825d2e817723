// Dropout on the GPU: a counter-based mask (no state on the device, so a
// step's masks are a function of (seed, offset)) and its application, which
// serves the forward (y = x*mask) and the backward (dx = dy*mask).
//
// CPU twins: dropoutMaskHash in dropout_hash.go (the same hash: the CPU ops
// draw the same masks from the same seeds, one a step from kernels.RNG) and
// dropoutApply, which multiplies by the mask as mul_f32 does.

#include "dropout_hash.cuh"

// dropout_mask_f32 writes mask[i] = drop_keep(seed, offset+i): 0 with
// probability p, else 1/(1-p).
extern "C" __global__ void dropout_mask_f32(float *mask, long long n, float p,
                                            unsigned long long seed, unsigned long long offset)
{
    const float keep = 1.f / (1.f - p);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        mask[i] = drop_keep(seed, offset + (unsigned long long)i, p, keep);
    }
}

// mul_f32 writes y = x * mask.
extern "C" __global__ void mul_f32(float *y, const float *x, const float *mask, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        y[i] = x[i] * mask[i];
    }
}
