// Softmax cross-entropy on the GPU: one block per row for the softmax and
// the row's loss, one block for the mean, elementwise for the backward.
// Rows whose target is negative (or not below v) are ignored. The mean and
// the count stay on the device (stats), so the backward needs no host value.
//
// CPU twins: kernels.CrossEntropyForward (sum and count; the op divides) and
// kernels.CrossEntropyBackward.

#include "reduce.cuh"

// crossentropy_fwd_f32 writes probs = softmax(logits) over the first v
// columns of rows w apart (the rest padding, not touched) and losses (n):
// log(sum exp(x - max)) - (x[target] - max), 0 for an ignored row.
// One block (a multiple of 32 threads, at most 1024) per row.
extern "C" __global__ void crossentropy_fwd_f32(float *probs, float *losses, const float *logits,
                                                const int *targets, int n, int v, int w)
{
    __shared__ float sh[32];
    const int row = blockIdx.x;
    if (row >= n) {
        return;
    }
    const float *x = logits + (long long)row * w;
    float *p = probs + (long long)row * w;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < v; j += blockDim.x) {
        m = fmaxf(m, x[j]);
    }
    m = block_reduce(m, true, sh);
    float s = 0.f;
    for (int j = threadIdx.x; j < v; j += blockDim.x) {
        s += expf(x[j] - m);
    }
    s = block_reduce(s, false, sh);
    const float inv = 1.f / s;
    for (int j = threadIdx.x; j < v; j += blockDim.x) {
        p[j] = expf(x[j] - m) * inv;
    }
    if (threadIdx.x == 0) {
        const int tg = targets[row];
        losses[row] = (tg >= 0 && tg < v) ? logf(s) - (x[tg] - m) : 0.f;
    }
}

// crossentropy_mean_f32 writes stats[0] = mean of losses over the counted
// rows (0 when none) and stats[1] = their count. One block of 1024 threads.
extern "C" __global__ void crossentropy_mean_f32(float *stats, const float *losses, const int *targets,
                                                 int n, int v)
{
    __shared__ double ssum[1024];
    __shared__ int scount[1024];
    double s = 0;
    int k = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const int tg = targets[i];
        if (tg >= 0 && tg < v) {
            s += losses[i];
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

// crossentropy_bwd_f32 writes dlogits = scale*(probs - onehot(target)) over
// the first v columns of counted rows (w apart), 0 on ignored rows and in
// the padding columns, scale = dloss[0]/stats[1] (dloss may be null: 1), 0
// when no row counted.
extern "C" __global__ void crossentropy_bwd_f32(float *dlogits, const float *probs, const int *targets,
                                                const float *dloss, const float *stats, int n, int v, int w)
{
    const float count = stats[1];
    const float scale = count > 0.f ? (dloss != nullptr ? dloss[0] : 1.f) / count : 0.f;
    const long long total = (long long)n * w;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const int row = (int)(e / w), j = (int)(e % w), tg = targets[row];
        float d = 0.f;
        if (tg >= 0 && tg < v && j < v) {
            d = scale * probs[e];
            if (j == tg) {
                d -= scale;
            }
        }
        dlogits[e] = d;
    }
}
