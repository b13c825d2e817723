// Sampling on the GPU: the parts of the key/value-cache decoder
// (graph.DeviceDecoder) that training has no kernel for. A step feeds n new
// tokens, from one or several sequences (slots), each at its own position;
// each slot's keys and values live in a cache of n_ctx rows per layer, the
// slots one after another, so token r's cache rows start at base[r] and it
// sits at row base[r] + pos[r].
//
// CPU twins: kernels.DecodeEmbed, kernels.DecodeKVStore and
// kernels.DecodeAttention.

#include "reduce.cuh"

// decode_embed_f32 writes out (n, c): row r is wte[idx[r]] + wpe[pos[r]].
// Ids and positions are checked on the host.
extern "C" __global__ void decode_embed_f32(float *out, const float *wte, const float *wpe, const int *idx,
                                            const int *pos, int n, int c)
{
    const long long total = (long long)n * c;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const int r = (int)(e / c), j = (int)(e % c);
        out[e] = wte[(long long)idx[r] * c + j] + wpe[(long long)pos[r] * c + j];
    }
}

// decode_kv_store_f32 copies the key and value of each new token, columns
// c..2c and 2c..3c of its row of qkv (n, 3c), to row base[r] + pos[r] of
// the caches k and v (rows of c).
extern "C" __global__ void decode_kv_store_f32(float *k, float *v, const float *qkv, const int *base,
                                               const int *pos, int n, int c)
{
    const long long total = (long long)n * c;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        const int r = (int)(e / c), j = (int)(e % c);
        const long long to = ((long long)base[r] + pos[r]) * c + j;
        const float *row = qkv + (long long)r * 3 * c;
        k[to] = row[c + j];
        v[to] = row[2 * c + j];
    }
}

__device__ __forceinline__ float decode_warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

// decode_attention_f32 writes out (n, c): block (r, h) is head h of token
// r, whose query (columns h*hs.. of its row of qkv (n, 3c)) attends to the
// cache rows base[r] .. base[r]+pos[r] of k and v (its own key the last),
// scaled by 1/sqrt(hs), hs = c/nHead. A block is whole warps; warp w scores
// keys w, w+warps, ... (the lanes splitting the dot product), and sums the
// values of those keys into its row of part. Dynamic shared memory: the
// scores of the longest row (maxKeys floats), then warps*hs floats of part.
extern "C" __global__ void decode_attention_f32(float *out, const float *qkv, const float *k, const float *v,
                                                const int *base, const int *pos, int c, int nHead,
                                                int maxKeys, float scale)
{
    extern __shared__ float smem[];
    __shared__ float sh[32];
    const int r = blockIdx.x, h = blockIdx.y, hs = c / nHead;
    const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *p = smem, *part = smem + maxKeys;
    const int keys = pos[r] + 1;
    const float *q = qkv + (long long)r * 3 * c + h * hs;
    const float *kh = k + (long long)base[r] * c + h * hs;
    const float *vh = v + (long long)base[r] * c + h * hs;

    for (int j = warp; j < keys; j += warps) {
        const float *kj = kh + (long long)j * c;
        float s = 0.f;
        for (int d = lane; d < hs; d += 32) {
            s += q[d] * kj[d];
        }
        s = decode_warp_sum(s);
        if (lane == 0) {
            p[j] = s * scale;
        }
    }
    __syncthreads();
    float m = -INFINITY;
    for (int j = threadIdx.x; j < keys; j += blockDim.x) {
        m = fmaxf(m, p[j]);
    }
    m = block_reduce(m, true, sh);
    float sum = 0.f;
    for (int j = threadIdx.x; j < keys; j += blockDim.x) {
        const float e = expf(p[j] - m);
        p[j] = e;
        sum += e;
    }
    sum = block_reduce(sum, false, sh); // its barriers publish p
    for (int d = lane; d < hs; d += 32) {
        float acc = 0.f;
        for (int j = warp; j < keys; j += warps) {
            acc += p[j] * vh[(long long)j * c + d];
        }
        part[warp * hs + d] = acc;
    }
    __syncthreads();
    for (int d = threadIdx.x; d < hs; d += blockDim.x) {
        float acc = 0.f;
        for (int w = 0; w < warps; w++) {
            acc += part[w * hs + d];
        }
        out[(long long)r * c + h * hs + d] = acc / sum;
    }
}
