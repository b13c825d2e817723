// AdamW on the GPU, in place, one thread per parameter. The host computes the
// constants (1-b1, 1-b2, the bias corrections) once per step in float64 and
// rounds them to float32, as kernels.AdamW does. A step refused on
// the device (a non-finite gradient norm, see step_guard in gradnorm.cu)
// leaves everything alone.
//
// CPU twin: kernels.AdamW.

// adamw_f32 updates p, m, v from g:
//   m = b1 m + omb1 g;  v = b2 v + omb2 g²   (omb = 1-b, rounded from float64)
//   p = p*decay - stepSize * m / (sqrt(v)/sqrtBC2 + eps)
// with decay = 1 - lr*wd, stepSize = lr/(1-b1^step), sqrtBC2 = sqrt(1-b2^step),
// unless refused is not NULL and *refused is not 0.
extern "C" __global__ void adamw_f32(float *p, const float *g, float *m, float *v, long long n,
                                     float beta1, float oneMinusBeta1, float beta2,
                                     float oneMinusBeta2, float eps, float decay,
                                     float stepSize, float sqrtBC2, const int *refused)
{
    if (refused != nullptr && *refused != 0) {
        return;
    }
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float gi = g[i];
        float mi = beta1 * m[i] + oneMinusBeta1 * gi;
        float vi = beta2 * v[i] + oneMinusBeta2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - stepSize * mi / (sqrtf(vi) / sqrtBC2 + eps);
    }
}
