// GELU, tanh approximation, elementwise on the GPU.
//
// CPU twins: kernels.GELUForward and kernels.GELUBackward.

#define SQRT_2_OVER_PI 0.7978845608028654f
#define GELU_COEF 0.044715f

// gelu_fwd_f32 writes y[i] = 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
extern "C" __global__ void gelu_fwd_f32(float *y, const float *x, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = 0.5f * v * (1.f + tanhf(SQRT_2_OVER_PI * v * (1.f + GELU_COEF * v * v)));
    }
}

// gelu_bwd_f32 writes dx[i] = dy[i] * gelu'(x[i]).
extern "C" __global__ void gelu_bwd_f32(float *dx, const float *dy, const float *x, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        // v^2 capped where tanh is already ±1: du stays finite where
        // 1 - th^2 is 0 (as in the CPU twin).
        float v = x[i], v2 = fminf(v * v, 1e4f);
        float th = tanhf(SQRT_2_OVER_PI * v * (1.f + GELU_COEF * v2));
        float du = SQRT_2_OVER_PI * (1.f + 3.f * GELU_COEF * v2);
        dx[i] = dy[i] * (0.5f * (1.f + th) + 0.5f * v * (1.f - th * th) * du);
    }
}

// gelu_erf_fwd_f32 writes y[i] = x*Phi(x) = 0.5x(1 + erf(x/sqrt 2)), the exact GELU.
// CPU twin: kernels.GELUErfForward.
extern "C" __global__ void gelu_erf_fwd_f32(float *y, const float *x, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    }
}

// gelu_erf_bwd_f32 writes dx[i] = dy[i] * (Phi(x) + x*phi(x)).
// CPU twin: kernels.GELUErfBackward.
extern "C" __global__ void gelu_erf_bwd_f32(float *dx, const float *dy, const float *x, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float v = x[i];
        float cdf = 0.5f * (1.f + erff(v * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}
