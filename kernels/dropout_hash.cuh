// The counter-based dropout mask shared by dropout.cu and flash.cu: the
// multiplier of element i of a mask drawn from seed is a function of
// (seed, i) alone, so a kernel can recompute any element of it.
//
// CPU twin: hashKeep in dropout_hash.go.
#pragma once

__device__ __forceinline__ unsigned long long splitmix64(unsigned long long z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// drop_keep returns 0 with probability p, else keep = 1/(1-p): u is the top
// 24 bits of splitmix64(seed + i*golden) over 2^24.
__device__ __forceinline__ float drop_keep(unsigned long long seed, unsigned long long i, float p, float keep)
{
    const unsigned long long h = splitmix64(seed + i * 0x9e3779b97f4a7c15ull);
    return (float)(h >> 40) * (1.f / 16777216.f) < p ? 0.f : keep;
}
