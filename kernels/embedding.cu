// Token plus position embedding on the GPU, and its scatter-add backward.
//
// CPU twins: kernels.EmbeddingForward and kernels.EmbeddingBackward.

// embedding_fwd_f32 writes out (b*t, c): row r = bi*t+ti is wte[idx[r]] + wpe[ti].
// Ids are checked on the host; an id outside [0, v) gives a zero token row.
extern "C" __global__ void embedding_fwd_f32(float *out, const float *wte, const float *wpe,
                                             const int *idx, int bt, int t, int c, int v)
{
    const long long n = (long long)bt * c;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;
         e += (long long)gridDim.x * blockDim.x) {
        int r = (int)(e / c), j = (int)(e % c), id = idx[r];
        float tok = (id >= 0 && id < v) ? wte[(long long)id * c + j] : 0.f;
        out[e] = tok + wpe[(long long)(r % t) * c + j];
    }
}

// embedding_bwd_f32 adds dout (b*t, c) into dwte[idx[r]] and dwpe[r % t] with
// atomicAdd; the launcher zeroes dwte and dwpe first.
extern "C" __global__ void embedding_bwd_f32(float *dwte, float *dwpe, const float *dout,
                                             const int *idx, int bt, int t, int c, int v)
{
    const long long n = (long long)bt * c;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;
         e += (long long)gridDim.x * blockDim.x) {
        int r = (int)(e / c), j = (int)(e % c), id = idx[r];
        float d = dout[e];
        if (id >= 0 && id < v) {
            atomicAdd(&dwte[(long long)id * c + j], d);
        }
        atomicAdd(&dwpe[(long long)(r % t) * c + j], d);
    }
}
