// Float32 to bfloat16 on the GPU: the operands of BF16 products (cuBLAS
// GemmEx with float32 accumulation and output; see gemm_cuda.go).
//
// CPU twin: kernels.BF16 (round to nearest even; NaN stays a quiet NaN).

// f32_to_bf16 writes y[i] = bf16(x[i]), y holding n 16-bit values.
extern "C" __global__ void f32_to_bf16(unsigned short *y, const float *x, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        union {
            float f;
            unsigned int u;
        } v;
        v.f = x[i];
        unsigned int u = v.u;
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            y[i] = (unsigned short)((u >> 16) | 0x40u);
        } else {
            y[i] = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
        }
    }
}
