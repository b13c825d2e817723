// Causal self-attention on the GPU: the row-wise parts. The products
// (S = scale Q Kᵀ, out = (P*drop) V, dA = dout Vᵀ, dQ = dS K, dK = dSᵀ Q,
// dV = (P*drop)ᵀ dout) are gemm.cu's batched causal kernels, one (batch,
// head) pair per blockIdx.z with shared-memory tiles; the launcher in
// attention_cuda.go strings them together. The probabilities P (b, nHead, t, t)
// are kept for the backward, as kernels.AttentionForward keeps them.
//
// One warp per row of P; a row r of the (b*nHead*t) rows is query i = r % t.
//
// CPU twins: kernels.AttentionForward (softmax up to the diagonal, zeros
// after) and kernels.AttentionBackward (dS from P and dP).

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

// attn_softmax_f32 overwrites each row of att (rows × t) holding scores with
// softmax over columns 0..i and zeros after.
extern "C" __global__ void attn_softmax_f32(float *att, int t, long long rows)
{
    const long long r = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= rows) {
        return;
    }
    const int i = (int)(r % t);
    float *row = att + r * t;
    float m = -INFINITY;
    for (int j = lane; j <= i; j += 32) {
        m = fmaxf(m, row[j]);
    }
    m = warp_max(m);
    float s = 0.f;
    for (int j = lane; j <= i; j += 32) {
        s += expf(row[j] - m);
    }
    const float inv = 1.f / warp_sum(s);
    for (int j = lane; j < t; j += 32) {
        row[j] = j <= i ? expf(row[j] - m) * inv : 0.f;
    }
}

// attn_dsoftmax_f32 turns dA (in ds, columns 0..i of each row valid) into
// dS = scale * P * (dP - sum_k P_k dP_k), dP = dA*drop (drop may be null),
// and writes zeros after the diagonal.
extern "C" __global__ void attn_dsoftmax_f32(float *ds, const float *att, const float *drop,
                                             int t, float scale, long long rows)
{
    const long long r = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= rows) {
        return;
    }
    const int i = (int)(r % t);
    float *d = ds + r * t;
    const float *p = att + r * t;
    const float *dm = drop != nullptr ? drop + r * t : nullptr;
    float pd = 0.f;
    for (int j = lane; j <= i; j += 32) {
        float dp = dm != nullptr ? d[j] * dm[j] : d[j];
        pd += p[j] * dp;
    }
    pd = warp_sum(pd);
    for (int j = lane; j < t; j += 32) {
        float v = 0.f;
        if (j <= i) {
            float dp = dm != nullptr ? d[j] * dm[j] : d[j];
            v = scale * p[j] * (dp - pd);
        }
        d[j] = v;
    }
}
