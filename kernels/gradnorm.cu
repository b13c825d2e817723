// The global gradient norm and its clipping on the GPU, so that a training
// step needs no host round trip: each gradient's sum of squares in double
// per block, one block adding the partials in order, and a scaling that
// reads the sum from device memory.
//
// CPU twins: kernels.SumSquares and the scaling of train.ClipGrads (scale =
// maxNorm/(norm + 1e-6) when norm > maxNorm, in double, then x *= float(scale)).

#include "reduce.cuh"

// sumsq_partial_f32 writes part[blockIdx.x] = the sum of x[i]^2 in double
// over the block's grid-stride elements. Blocks of 256 threads.
extern "C" __global__ void sumsq_partial_f32(double *part, const float *x, long long n)
{
    __shared__ double s[256];
    double acc = 0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        acc += (double)x[i] * (double)x[i];
    }
    acc = block_sum(acc, s);
    if (threadIdx.x == 0) {
        part[blockIdx.x] = acc;
    }
}

// sumsq_total_f64 writes sum[0] = the sum of part[0..m) in double, in a
// fixed order. One block of 256 threads.
extern "C" __global__ void sumsq_total_f64(double *sum, const double *part, int m)
{
    __shared__ double s[256];
    double acc = 0;
    for (int i = threadIdx.x; i < m; i += blockDim.x) {
        acc += part[i];
    }
    acc = block_sum(acc, s);
    if (threadIdx.x == 0) {
        sum[0] = acc;
    }
}

// clip_scale_f32 multiplies x by float(maxNorm/(norm + 1e-6)), norm =
// sqrt(sumsq[0]), when maxNorm > 0 and norm > maxNorm; else leaves it.
extern "C" __global__ void clip_scale_f32(float *x, long long n, const double *sumsq, double maxNorm)
{
    const double norm = sqrt(sumsq[0]);
    if (!(maxNorm > 0 && norm > maxNorm)) {
        return;
    }
    const float f = (float)(maxNorm / (norm + 1e-6));
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        x[i] *= f;
    }
}

// step_guard decides on the device whether a training step may update the
// weights, so that the host need not wait for the gradient norm: state is
// the sum of squares (a double) followed by two ints, the number of steps
// refused so far and the first of them. A step whose sum of squares is not
// finite is refused and recorded; once one is, every later step is refused
// too (AdamW reads state's count and leaves the weights alone), so the
// weights stay as they were before the first bad step until the host looks.
// One thread.
extern "C" __global__ void step_guard(double *state, int step)
{
    int *refused = (int *)(state + 1);
    if (!isfinite(state[0])) {
        if (refused[0] == 0) {
            refused[1] = step;
        }
        refused[0]++;
    }
}
