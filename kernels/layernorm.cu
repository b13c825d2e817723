// LayerNorm over the last axis on the GPU, one warp per row of c features.
//
// CPU twins: kernels.LayerNormForward and kernels.LayerNormBackward (same
// shifted mean, two-pass variance, same formulas).

__device__ __forceinline__ float ln_warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

// layernorm_fwd_f32 writes y (n×c), mean (n) and rstd (n).
extern "C" __global__ void layernorm_fwd_f32(float *y, float *mean, float *rstd, const float *x,
                                             const float *w, const float *b, int n, int c, float eps)
{
    const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= n) {
        return;
    }
    const float *xr = x + (long long)row * c;
    float *yr = y + (long long)row * c;
    // The mean is x[0] plus that of x - x[0]: exact for a row of equal
    // values, as in the CPU twin.
    const float shift = xr[0];
    float s = 0.f;
    for (int j = lane; j < c; j += 32) {
        s += xr[j] - shift;
    }
    const float m = shift + ln_warp_sum(s) / c;
    float v = 0.f;
    for (int j = lane; j < c; j += 32) {
        float d = xr[j] - m;
        v += d * d;
    }
    const float rs = rsqrtf(ln_warp_sum(v) / c + eps);
    for (int j = lane; j < c; j += 32) {
        yr[j] = (xr[j] - m) * rs * w[j] + b[j];
    }
    if (lane == 0) {
        mean[row] = m;
        rstd[row] = rs;
    }
}

// layernorm_bwd_f32 writes dx (n×c) and, per block, partial sums of dw and db
// into part[blockIdx.x*2c ...] (dw then db); layernorm_bwd_reduce_f32 adds the
// partials. Warp w of block k takes rows k*8+w, k*8+w + 8*gridDim.x, ...
// Dynamic shared memory: 2*c floats.
extern "C" __global__ void layernorm_bwd_f32(float *dx, float *part, const float *dy, const float *x,
                                             const float *w, const float *mean, const float *rstd,
                                             int n, int c)
{
    extern __shared__ float acc[]; // dw (c), db (c)
    const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int j = threadIdx.x; j < 2 * c; j += blockDim.x) {
        acc[j] = 0.f;
    }
    __syncthreads();
    for (int row = blockIdx.x * warps + warp; row < n; row += gridDim.x * warps) {
        const float *xr = x + (long long)row * c, *dyr = dy + (long long)row * c;
        float *dxr = dx + (long long)row * c;
        const float m = mean[row], s = rstd[row];
        float g = 0.f, gx = 0.f;
        for (int j = lane; j < c; j += 32) {
            float xhat = (xr[j] - m) * s, d = dyr[j], gj = d * w[j];
            g += gj;
            gx += gj * xhat;
            atomicAdd(&acc[j], d * xhat);
            atomicAdd(&acc[c + j], d);
        }
        g = ln_warp_sum(g) / c;
        gx = ln_warp_sum(gx) / c;
        for (int j = lane; j < c; j += 32) {
            float xhat = (xr[j] - m) * s;
            dxr[j] = s * (dyr[j] * w[j] - g - xhat * gx);
        }
    }
    __syncthreads();
    float *p = part + (long long)blockIdx.x * 2 * c;
    for (int j = threadIdx.x; j < 2 * c; j += blockDim.x) {
        p[j] = acc[j];
    }
}

// layernorm_bwd_reduce_f32 overwrites dw (c) and db (c) with the sums of the
// nblk partials in block order.
extern "C" __global__ void layernorm_bwd_reduce_f32(float *dw, float *db, const float *part, int nblk, int c)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= 2 * c) {
        return;
    }
    float s = 0.f;
    for (int k = 0; k < nblk; k++) {
        s += part[(long long)k * 2 * c + j];
    }
    if (j < c) {
        dw[j] = s;
    } else {
        db[j - c] = s;
    }
}
