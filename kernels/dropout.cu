// Dropout on the GPU: a counter-based mask (no state on the device, so a
// step's masks are a function of (seed, offset)) and its application, which
// serves the forward (y = x*mask) and the backward (dx = dy*mask).
//
// CPU twins: dropoutMaskHash in cuda_rng.go (the same hash; the CPU ops draw
// their masks from kernels.RNG instead) and the loops of dropoutOp.Forward and
// dropoutGradOp.Forward (mul_f32).

__device__ __forceinline__ unsigned long long splitmix64(unsigned long long z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// dropout_mask_f32 writes mask[i] = 0 with probability p, else 1/(1-p), from
// u = top 24 bits of splitmix64(seed + (offset+i)*golden) / 2^24.
extern "C" __global__ void dropout_mask_f32(float *mask, long long n, float p,
                                            unsigned long long seed, unsigned long long offset)
{
    const float keep = 1.f / (1.f - p);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        unsigned long long h = splitmix64(seed + (offset + (unsigned long long)i) * 0x9e3779b97f4a7c15ull);
        float u = (float)(h >> 40) * (1.f / 16777216.f);
        mask[i] = u < p ? 0.f : keep;
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
