// The ops of the finetuning heads on the GPU: gathering (and summing) rows
// of the hidden states, its gradient, mean squared error, the scalar
// combinations of losses, and the weighted sum. Row gathers run in the
// order of the CPU loops, so they match them bit for bit; the reductions
// sum in double, as the CPU ones do.
//
// CPU twins: kernels.GatherRowsForward, GatherRowsBackward, MSEForward,
// MSEBackward, and the loops of addScaledOp, scaleConstOp, scaleByOp and
// weightedSumOp.

#include "reduce.cuh"

#ifndef __CUDA_ARCH__ // the CPU emulator (scripts/cuda-emu) compiles this as C++
#define __fmul_rn(a, b) ((a) * (b))
#endif

// gather_rows_fwd_f32 writes y (k×c): row i is the sum over j < g of
// x[rows[i*g+j]] in j order, skipping negative indexes.
extern "C" __global__ void gather_rows_fwd_f32(float *y, const float *x, const int *rows, int k, int g, int c)
{
    const long long total = (long long)k * c;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const int i = (int)(e / c), col = (int)(e % c);
        float s = 0.f;
        for (int j = 0; j < g; j++) {
            const int r = rows[i * g + j];
            if (r >= 0) {
                s += x[(long long)r * c + col];
            }
        }
        y[e] = s;
    }
}

// gather_rows_bwd_f32 writes the rows of dx (n×c) that entries of rows
// name: row r is the sum of dy[e/g] over the entries e < m equal to r, in e
// order; the launcher zeroes dx first (the other rows get nothing). One
// thread per entry and column: the first entry naming a row sums all those
// that do (no atomics; an entry repeating an earlier one's row does
// nothing), so the work grows with the m entries, not the n rows.
extern "C" __global__ void gather_rows_bwd_f32(float *dx, const float *dy, const int *rows, int n, int m, int g,
                                               int c)
{
    const long long total = (long long)m * c;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const int i = (int)(e / c), col = (int)(e % c);
        const int r = rows[i];
        if (r < 0 || r >= n) {
            continue;
        }
        bool first = true;
        for (int k = 0; k < i && first; k++) {
            first = rows[k] != r;
        }
        if (!first) {
            continue;
        }
        float s = 0.f;
        for (int k = i; k < m; k++) {
            if (rows[k] == r) {
                s += dy[(long long)(k / g) * c + col];
            }
        }
        dx[(long long)r * c + col] = s;
    }
}

// mse_fwd_f32 writes stats[0] = the mean of (pred - target)^2 over the rows
// whose target is not NaN (0 when none), summed in double, and stats[1] =
// their count. One block of 1024 threads.
extern "C" __global__ void mse_fwd_f32(float *stats, const float *pred, const float *target, int n)
{
    __shared__ double ssum[1024];
    __shared__ int scount[1024];
    double s = 0;
    int k = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const float t = target[i];
        if (t == t) {
            const double d = (double)pred[i] - (double)t;
            s += d * d;
            k++;
        }
    }
    s = block_sum(s, ssum);
    k = block_sum(k, scount);
    if (threadIdx.x == 0) {
        stats[0] = k > 0 ? (float)(s / k) : 0.f;
        stats[1] = (float)k;
    }
}

// mse_bwd_f32 writes dpred = 2*scale*(pred - target), 0 where the target is
// NaN, scale = dloss[0]/stats[1] (0 when no row counted).
extern "C" __global__ void mse_bwd_f32(float *dpred, const float *pred, const float *target, const float *dloss,
                                       const float *stats, int n)
{
    const float count = stats[1];
    const float scale = count > 0.f ? dloss[0] / count : 0.f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const float t = target[i];
        dpred[i] = t == t ? 2.f * scale * (pred[i] - t) : 0.f;
    }
}

// scale_f32 writes y = x * f, f = s[0] when s is not null (a device scalar,
// scaleByOp), else the constant k (scaleConstOp).
extern "C" __global__ void scale_f32(float *y, const float *x, const float *s, float k, long long n)
{
    const float f = s != nullptr ? s[0] : k;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        y[i] = x[i] * f;
    }
}

// add_scaled_f32 writes y = a + lambda*b, the product rounded on its own as
// on the CPU (no fused multiply-add).
extern "C" __global__ void add_scaled_f32(float *y, const float *a, const float *b, float lambda, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        y[i] = a[i] + __fmul_rn(lambda, b[i]);
    }
}

// weighted_sum_f32 writes y[0] = sum of x*w, summed in double. One block of
// 1024 threads.
extern "C" __global__ void weighted_sum_f32(float *y, const float *x, const float *w, long long n)
{
    __shared__ double ssum[1024];
    double s = 0;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) {
        s += (double)x[i] * (double)w[i];
    }
    s = block_sum(s, ssum);
    if (threadIdx.x == 0) {
        y[0] = (float)s;
    }
}
