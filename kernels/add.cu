// Residual add and gradient accumulation on the GPU, elementwise.
//
// CPU twin: kernels.AddInto (add_f32); add_inplace_f32 is y += a, the
// executor's accumulation of a gradient that reaches a node twice.

// add_f32 writes y = a + b.
extern "C" __global__ void add_f32(float *y, const float *a, const float *b, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        y[i] = a[i] + b[i];
    }
}

// add_inplace_f32 adds a to y.
extern "C" __global__ void add_inplace_f32(float *y, const float *a, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        y[i] += a[i];
    }
}
