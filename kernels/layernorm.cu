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
// The sums go through shared memory cw columns at a time (dynamic shared
// memory: 2*cw floats): the first pass over the rows writes dx and sums
// columns [0, cw), each further pass reads the rows again for the next cw
// columns (a model wider than cw; one pass when c <= cw).
extern "C" __global__ void layernorm_bwd_f32(float *dx, float *part, const float *dy, const float *x,
                                             const float *w, const float *mean, const float *rstd,
                                             int n, int c, int cw)
{
    extern __shared__ float acc[]; // dw (cw), db (cw)
    const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *p = part + (long long)blockIdx.x * 2 * c;
    for (int c0 = 0; c0 < c; c0 += cw) {
        const int nc = min(cw, c - c0);
        for (int j = threadIdx.x; j < 2 * nc; j += blockDim.x) {
            acc[j] = 0.f;
        }
        __syncthreads();
        for (int row = blockIdx.x * warps + warp; row < n; row += gridDim.x * warps) {
            const float *xr = x + (long long)row * c, *dyr = dy + (long long)row * c;
            const float m = mean[row], s = rstd[row];
            if (c0 > 0) {
                for (int j = lane; j < nc; j += 32) {
                    const float d = dyr[c0 + j];
                    atomicAdd(&acc[j], d * ((xr[c0 + j] - m) * s));
                    atomicAdd(&acc[nc + j], d);
                }
                continue;
            }
            float *dxr = dx + (long long)row * c;
            float g = 0.f, gx = 0.f;
            for (int j = lane; j < c; j += 32) {
                float xhat = (xr[j] - m) * s, d = dyr[j], gj = d * w[j];
                g += gj;
                gx += gj * xhat;
                if (j < nc) {
                    atomicAdd(&acc[j], d * xhat);
                    atomicAdd(&acc[nc + j], d);
                }
            }
            g = ln_warp_sum(g) / c;
            gx = ln_warp_sum(gx) / c;
            for (int j = lane; j < c; j += 32) {
                float xhat = (xr[j] - m) * s;
                dxr[j] = s * (dyr[j] * w[j] - g - xhat * gx);
            }
        }
        __syncthreads();
        for (int j = threadIdx.x; j < nc; j += blockDim.x) {
            p[c0 + j] = acc[j];
            p[c + c0 + j] = acc[nc + j];
        }
        __syncthreads(); // acc is zeroed for the next columns
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
