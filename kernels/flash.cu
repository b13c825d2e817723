// Causal self-attention in tiles, without the t×t probabilities (the flash
// attention algorithm): the products on TF32 tensor cores (WMMA, m16n16k8,
// float32 accumulation), the softmax online in float32, one (batch, head)
// pair per blockIdx.x (the tiles of rows on blockIdx.y, so that a grid
// dispatches every pair's longest tile first). Used when TF32 is allowed and the head size is 16,
// 32 or 64; otherwise attention.cu with the batched products. Dropout on
// the probabilities (drop > 0) multiplies P_ij by drop_keep(seed,
// (pair*t + i)*t + j), the mask dropout_mask_f32 draws for the batched
// path from the same seed, recomputed in each kernel that needs it.
//
//   flash_fwd_dD:    out and lse (b, nHead, t), the log of each row's softmax
//                    denominator; blocks of 64 query rows (16 per warp), key
//                    tiles of 32, P V accumulated in shared memory and
//                    rescaled as each tile raises a row's maximum.
//   flash_dot:       D_i = dout_i · out_i per row and head.
//   flash_bwd_kv_dD: dK and dV for blocks of 64 keys (16 per warp) over the
//                    query tiles of 32 at or after them: P = exp(s - lse),
//                    dS = scale P (dP - D); sums stay in the warp's fragments.
//   flash_bwd_q_dD:  dQ for blocks of 64 queries over the key tiles up to them.
// No atomics: each output element is summed by one warp in a fixed order.
//
// CPU twins: kernels.FlashAttentionForward and kernels.FlashAttentionBackward
// (and, without lse, kernels.AttentionForward and AttentionBackward).

#include <mma.h>

#include "dropout_hash.cuh"

using namespace nvcuda;

#define FLASH_THREADS 128 // 4 warps
constexpr int FLASH_WARPS = FLASH_THREADS / 32;
constexpr int FLASH_ROWS = 16 * FLASH_WARPS; // rows (queries or keys) per block
constexpr int FLASH_TILE = 32;               // the other side's rows per step

typedef wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> FragA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> FragB;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> FragBt; // Bᵀ of a row-major tile
typedef wmma::fragment<wmma::accumulator, 16, 16, 8, float> FragC;

template <typename F>
__device__ __forceinline__ void to_tf32(F &f)
{
#pragma unroll
    for (int i = 0; i < f.num_elements; i++) {
        f.x[i] = wmma::__float_to_tf32(f.x[i]);
    }
}

template <typename F>
__device__ __forceinline__ void load_tf32(F &f, const float *p, unsigned ldm)
{
    wmma::load_matrix_sync(f, p, ldm);
    to_tf32(f);
}

// load_rows copies n rows (r0..r0+n) of D columns, row stride ld, from g
// into s (n×D), with zeros for rows at or past t. All threads of the block.
template <int D>
__device__ __forceinline__ void load_rows(float *s, const float *g, long long ld, int r0, int n, int t)
{
    for (int e = threadIdx.x; e < n * D; e += FLASH_THREADS) {
        const int r = e / D, d = e % D;
        s[e] = r0 + r < t ? g[(long long)(r0 + r) * ld + d] : 0.f;
    }
}

// warp_rows copies the warp's 16 rows (r0..r0+16) like load_rows, by its lanes.
template <int D>
__device__ __forceinline__ void warp_rows(float *s, const float *g, long long ld, int r0, int t, int lane)
{
    for (int e = lane; e < 16 * D; e += 32) {
        const int r = e / D, d = e % D;
        s[e] = r0 + r < t ? g[(long long)(r0 + r) * ld + d] : 0.f;
    }
}

// warp_fragments loads the warp's 16 rows (r0..r0+16, zeros at or past t)
// of D columns as D/8 TF32 A fragments, staged through the warp's 16×D
// shared tile stage.
template <int D>
__device__ __forceinline__ void warp_fragments(FragA *f, float *stage, const float *g, long long ld, int r0, int t,
                                               int lane)
{
    __syncwarp();
    warp_rows<D>(stage, g, ld, r0, t, lane);
    __syncwarp();
#pragma unroll
    for (int k = 0; k < D / 8; k++) {
        load_tf32(f[k], stage + k * 8, D);
    }
    __syncwarp();
}

// store_rows writes the warp's 16×D tile s to rows r0.. (below t) of g.
template <int D>
__device__ __forceinline__ void store_rows(float *g, long long ld, const float *s, int r0, int t, int lane)
{
    for (int e = lane; e < 16 * D; e += 32) {
        const int r = e / D, d = e % D;
        if (r0 + r < t) {
            g[(long long)(r0 + r) * ld + d] = s[e];
        }
    }
}

// two_products writes S = A Xᵀ and dP = B Yᵀ (16 × FLASH_TILE each,
// row-major), A and B a warp's 16 rows as D/8 fragments each, X and Y tiles
// of FLASH_TILE rows × D in shared memory. One 16-column block at a time:
// the backward kernels hold many fragments already.
template <int D>
__device__ __forceinline__ void two_products(float *S, float *dP, const FragA *a, const float *X, const FragA *b,
                                             const float *Y)
{
#pragma unroll 1
    for (int n = 0; n < FLASH_TILE / 16; n++) {
        FragC s, dp;
        wmma::fill_fragment(s, 0.f);
        wmma::fill_fragment(dp, 0.f);
#pragma unroll
        for (int k = 0; k < D / 8; k++) {
            FragBt f;
            load_tf32(f, X + n * 16 * D + k * 8, D);
            wmma::mma_sync(s, a[k], f, s);
            load_tf32(f, Y + n * 16 * D + k * 8, D);
            wmma::mma_sync(dp, b[k], f, dp);
        }
        wmma::store_matrix_sync(S + n * 16, s, FLASH_TILE, wmma::mem_row_major);
        wmma::store_matrix_sync(dP + n * 16, dp, FLASH_TILE, wmma::mem_row_major);
    }
}

template <int D>
__device__ void flash_fwd(float *out, float *osave, float *lse, const float *qkv, int t, int c, int nHead, float scale,
                          float drop, unsigned long long seed)
{
    __shared__ __align__(32) float Ks[FLASH_TILE * D];
    __shared__ __align__(32) float Vs[FLASH_TILE * D];
    __shared__ __align__(32) float Sw[FLASH_WARPS][16 * FLASH_TILE];
    __shared__ __align__(32) float Ow[FLASH_WARPS][16 * D];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int pair = blockIdx.x, bi = pair / nHead, h = pair % nHead;
    const int q0 = (gridDim.y - 1 - blockIdx.y) * FLASH_ROWS; // the blocks with the most keys first
    const int w0 = q0 + 16 * warp;                             // the warp's first query
    const long long ld = 3LL * c;
    const float *Q = qkv + (long long)bi * t * ld + h * D, *K = Q + c, *V = Q + 2 * c;
    float *S = Sw[warp], *O = Ow[warp];
    const int r = lane / 2, half = lane % 2, qi = w0 + r; // the lane's row, and its half of the columns
    const float keep = 1.f / (1.f - drop);
    const unsigned long long mrow = ((unsigned long long)pair * t + qi) * t; // the row's first mask index

    FragA qa[D / 8];
    warp_fragments<D>(qa, O, Q, ld, w0, t, lane);
    for (int e = lane; e < 16 * D; e += 32) {
        O[e] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    const int kend = min(q0 + FLASH_ROWS, t);
    for (int k0 = 0; k0 < kend; k0 += FLASH_TILE) {
        __syncthreads();
        load_rows<D>(Ks, K, ld, k0, FLASH_TILE, t);
        load_rows<D>(Vs, V, ld, k0, FLASH_TILE, t);
        __syncthreads();
        if (w0 >= t || k0 > w0 + 15) {
            continue; // every key of the tile comes after the warp's queries
        }
        // S = Q Kᵀ (16 × FLASH_TILE)
#pragma unroll
        for (int n = 0; n < FLASH_TILE / 16; n++) {
            FragC s;
            wmma::fill_fragment(s, 0.f);
#pragma unroll
            for (int k = 0; k < D / 8; k++) {
                FragBt kb;
                load_tf32(kb, Ks + n * 16 * D + k * 8, D);
                wmma::mma_sync(s, qa[k], kb, s);
            }
            wmma::store_matrix_sync(S + n * 16, s, FLASH_TILE, wmma::mem_row_major);
        }
        __syncwarp();
        // Online softmax: a pair of lanes per row, 16 columns each.
        float *row = S + r * FLASH_TILE + half * 16;
        float mx = -INFINITY;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int kj = k0 + half * 16 + j;
            row[j] = kj <= qi && kj < t ? row[j] * scale : -INFINITY;
            mx = fmaxf(mx, row[j]);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        const float mn = fmaxf(m, mx); // finite: key 0 is in the first tile
        const float alpha = __expf(m - mn);
        float sum = 0.f;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const float p = __expf(row[j] - mn);
            sum += p;
            row[j] = drop > 0.f ? p * drop_keep(seed, mrow + k0 + half * 16 + j, drop, keep) : p;
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        l = l * alpha + sum;
        m = mn;
        for (int d = half * (D / 2); d < (half + 1) * (D / 2); d++) {
            O[r * D + d] *= alpha;
        }
        __syncwarp();
        // O += P V
        FragA pa[FLASH_TILE / 8];
#pragma unroll
        for (int k = 0; k < FLASH_TILE / 8; k++) {
            load_tf32(pa[k], S + k * 8, FLASH_TILE);
        }
#pragma unroll
        for (int n = 0; n < D / 16; n++) {
            FragC o;
            wmma::load_matrix_sync(o, O + n * 16, D, wmma::mem_row_major);
#pragma unroll
            for (int k = 0; k < FLASH_TILE / 8; k++) {
                FragB vb;
                load_tf32(vb, Vs + k * 8 * D + n * 16, D);
                wmma::mma_sync(o, pa[k], vb, o);
            }
            wmma::store_matrix_sync(O + n * 16, o, D, wmma::mem_row_major);
        }
        __syncwarp();
    }
    if (w0 >= t) {
        return;
    }
    __syncwarp();
    if (qi < t) {
        const float inv = 1.f / l;
        const long long at = ((long long)bi * t + qi) * c + h * D;
        for (int d = half * (D / 2); d < (half + 1) * (D / 2); d++) {
            const float v = O[r * D + d] * inv;
            out[at + d] = v;
            osave[at + d] = v;
        }
        if (half == 0) {
            lse[(long long)pair * t + qi] = m + __logf(l);
        }
    }
}

// flash_dot writes dsum[pair*t + i] = dout_i · out_i over head h's columns,
// one warp per (pair, i) row.
extern "C" __global__ void flash_dot(float *dsum, const float *dout, const float *out, int t, int c, int nHead, int hs,
                                     long long rows)
{
    const long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) {
        return;
    }
    const long long pair = row / t;
    const int i = (int)(row % t), bi = (int)(pair / nHead), h = (int)(pair % nHead);
    const long long at = ((long long)bi * t + i) * c + (long long)h * hs;
    float s = 0.f;
    for (int d = lane; d < hs; d += 32) {
        s += dout[at + d] * out[at + d];
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        s += __shfl_xor_sync(0xffffffffu, s, o);
    }
    if (lane == 0) {
        dsum[row] = s;
    }
}

template <int D>
__device__ void flash_bwd_kv(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum,
                             int t, int c, int nHead, float scale, float drop, unsigned long long seed)
{
    static_assert(16 * D <= 2 * 16 * FLASH_TILE, "a warp's 16×D tile is staged in its P and dP space");
    __shared__ __align__(32) float Qs[FLASH_TILE * D];
    __shared__ __align__(32) float dOs[FLASH_TILE * D];
    __shared__ __align__(32) float Ww[FLASH_WARPS][2 * 16 * FLASH_TILE];
    __shared__ float Ls[FLASH_TILE], Ds[FLASH_TILE];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int pair = blockIdx.x, bi = pair / nHead, h = pair % nHead;
    const int kb0 = blockIdx.y * FLASH_ROWS, w0 = kb0 + 16 * warp; // the block's and the warp's first key
    const long long ld = 3LL * c;
    const float *Q = qkv + (long long)bi * t * ld + h * D, *K = Q + c, *V = Q + 2 * c;
    const float *dO = dout + (long long)bi * t * c + h * D;
    float *P = Ww[warp], *dP = Ww[warp] + 16 * FLASH_TILE;
    const int r = lane / 2, half = lane % 2, kj = w0 + r;
    const float keep = 1.f / (1.f - drop);

    FragA ka[D / 8], va[D / 8];
    warp_fragments<D>(ka, P, K, ld, w0, t, lane);
    warp_fragments<D>(va, P, V, ld, w0, t, lane);
    FragC dk[D / 16], dv[D / 16];
#pragma unroll
    for (int n = 0; n < D / 16; n++) {
        wmma::fill_fragment(dk[n], 0.f);
        wmma::fill_fragment(dv[n], 0.f);
    }
    for (int i0 = kb0; i0 < t; i0 += FLASH_TILE) {
        __syncthreads();
        load_rows<D>(Qs, Q, ld, i0, FLASH_TILE, t);
        load_rows<D>(dOs, dO, c, i0, FLASH_TILE, t);
        for (int e = threadIdx.x; e < FLASH_TILE; e += FLASH_THREADS) {
            const bool in = i0 + e < t;
            Ls[e] = in ? lse[(long long)pair * t + i0 + e] : 0.f;
            Ds[e] = in ? dsum[(long long)pair * t + i0 + e] : 0.f;
        }
        __syncthreads();
        if (w0 >= t || i0 + FLASH_TILE - 1 < w0) {
            continue; // every query of the tile comes before the warp's keys
        }
        // Sᵀ = K Qᵀ and dPᵀ = V dOᵀ (16 keys × FLASH_TILE queries)
        __syncwarp();
        two_products<D>(P, dP, ka, Qs, va, dOs);
        __syncwarp();
        // (P M)ᵀ and dSᵀ = scale Pᵀ (M dPᵀ - D), M the dropout multipliers:
        // a pair of lanes per key row.
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int col = half * 16 + j, qi = i0 + col;
            const float p = qi >= kj && qi < t ? __expf(P[r * FLASH_TILE + col] * scale - Ls[col]) : 0.f;
            const float m = drop > 0.f && p != 0.f
                                ? drop_keep(seed, ((unsigned long long)pair * t + qi) * t + kj, drop, keep)
                                : 1.f;
            P[r * FLASH_TILE + col] = p * m;
            dP[r * FLASH_TILE + col] = scale * p * (m * dP[r * FLASH_TILE + col] - Ds[col]);
        }
        __syncwarp();
        // dV += (P M)ᵀ dO, dK += dSᵀ Q
#pragma unroll 1
        for (int k = 0; k < FLASH_TILE / 8; k++) {
            FragA pa, sa;
            load_tf32(pa, P + k * 8, FLASH_TILE);
            load_tf32(sa, dP + k * 8, FLASH_TILE);
#pragma unroll
            for (int n = 0; n < D / 16; n++) {
                FragB b;
                load_tf32(b, dOs + k * 8 * D + n * 16, D);
                wmma::mma_sync(dv[n], pa, b, dv[n]);
                load_tf32(b, Qs + k * 8 * D + n * 16, D);
                wmma::mma_sync(dk[n], sa, b, dk[n]);
            }
        }
    }
    if (w0 >= t) {
        return;
    }
    float *dK = dqkv + (long long)bi * t * ld + c + h * D, *dV = dK + c;
    __syncwarp();
#pragma unroll
    for (int n = 0; n < D / 16; n++) {
        wmma::store_matrix_sync(P + n * 16, dk[n], D, wmma::mem_row_major);
    }
    __syncwarp();
    store_rows<D>(dK, ld, P, w0, t, lane);
    __syncwarp();
#pragma unroll
    for (int n = 0; n < D / 16; n++) {
        wmma::store_matrix_sync(P + n * 16, dv[n], D, wmma::mem_row_major);
    }
    __syncwarp();
    store_rows<D>(dV, ld, P, w0, t, lane);
}

template <int D>
__device__ void flash_bwd_q(float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum,
                            int t, int c, int nHead, float scale, float drop, unsigned long long seed)
{
    __shared__ __align__(32) float Ks[FLASH_TILE * D];
    __shared__ __align__(32) float Vs[FLASH_TILE * D];
    __shared__ __align__(32) float Ww[FLASH_WARPS][2 * 16 * FLASH_TILE];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int pair = blockIdx.x, bi = pair / nHead, h = pair % nHead;
    const int q0 = (gridDim.y - 1 - blockIdx.y) * FLASH_ROWS, w0 = q0 + 16 * warp;
    const long long ld = 3LL * c;
    const float *Q = qkv + (long long)bi * t * ld + h * D, *K = Q + c, *V = Q + 2 * c;
    const float *dO = dout + (long long)bi * t * c + h * D;
    float *S = Ww[warp], *dP = Ww[warp] + 16 * FLASH_TILE;
    const int r = lane / 2, half = lane % 2, qi = w0 + r;
    const float li = qi < t ? lse[(long long)pair * t + qi] : 0.f;
    const float di = qi < t ? dsum[(long long)pair * t + qi] : 0.f;
    const float keep = 1.f / (1.f - drop);
    const unsigned long long mrow = ((unsigned long long)pair * t + qi) * t;

    FragA qa[D / 8], oa[D / 8];
    warp_fragments<D>(qa, S, Q, ld, w0, t, lane);
    warp_fragments<D>(oa, S, dO, c, w0, t, lane);
    FragC dq[D / 16];
#pragma unroll
    for (int n = 0; n < D / 16; n++) {
        wmma::fill_fragment(dq[n], 0.f);
    }
    const int kend = min(q0 + FLASH_ROWS, t);
    for (int k0 = 0; k0 < kend; k0 += FLASH_TILE) {
        __syncthreads();
        load_rows<D>(Ks, K, ld, k0, FLASH_TILE, t);
        load_rows<D>(Vs, V, ld, k0, FLASH_TILE, t);
        __syncthreads();
        if (w0 >= t || k0 > w0 + 15) {
            continue;
        }
        // S = Q Kᵀ and dP = dO Vᵀ (16 queries × FLASH_TILE keys)
        __syncwarp();
        two_products<D>(S, dP, qa, Ks, oa, Vs);
        __syncwarp();
        // dS = scale P (M dP - D), into S
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int col = half * 16 + j, kj = k0 + col;
            const float p = kj <= qi && kj < t ? __expf(S[r * FLASH_TILE + col] * scale - li) : 0.f;
            const float m = drop > 0.f && p != 0.f ? drop_keep(seed, mrow + kj, drop, keep) : 1.f;
            S[r * FLASH_TILE + col] = scale * p * (m * dP[r * FLASH_TILE + col] - di);
        }
        __syncwarp();
        // dQ += dS K
#pragma unroll
        for (int k = 0; k < FLASH_TILE / 8; k++) {
            FragA sa;
            load_tf32(sa, S + k * 8, FLASH_TILE);
#pragma unroll
            for (int n = 0; n < D / 16; n++) {
                FragB kb;
                load_tf32(kb, Ks + k * 8 * D + n * 16, D);
                wmma::mma_sync(dq[n], sa, kb, dq[n]);
            }
        }
    }
    if (w0 >= t) {
        return;
    }
    __syncwarp();
#pragma unroll
    for (int n = 0; n < D / 16; n++) {
        wmma::store_matrix_sync(S + n * 16, dq[n], D, wmma::mem_row_major);
    }
    __syncwarp();
    store_rows<D>(dqkv + (long long)bi * t * ld + h * D, ld, S, w0, t, lane);
}

// The entry points, one per head size. out and osave get the same values
// (osave is the forward's output kept for the backward's D); drop is the
// dropout probability on P (0: none), seed the mask's.
#define FLASH_FWD_ARGS                                                                                                \
    float *out, float *osave, float *lse, const float *qkv, int t, int c, int nHead, float scale, float drop,         \
        unsigned long long seed
#define FLASH_BWD_ARGS                                                                                                \
    float *dqkv, const float *dout, const float *qkv, const float *lse, const float *dsum, int t, int c, int nHead,   \
        float scale, float drop, unsigned long long seed

extern "C" __global__ void __launch_bounds__(128) flash_fwd_d16(FLASH_FWD_ARGS)
{
    flash_fwd<16>(out, osave, lse, qkv, t, c, nHead, scale, drop, seed);
}
extern "C" __global__ void __launch_bounds__(128) flash_fwd_d32(FLASH_FWD_ARGS)
{
    flash_fwd<32>(out, osave, lse, qkv, t, c, nHead, scale, drop, seed);
}
extern "C" __global__ void __launch_bounds__(128) flash_fwd_d64(FLASH_FWD_ARGS)
{
    flash_fwd<64>(out, osave, lse, qkv, t, c, nHead, scale, drop, seed);
}
extern "C" __global__ void __launch_bounds__(128) flash_bwd_kv_d16(FLASH_BWD_ARGS)
{
    flash_bwd_kv<16>(dqkv, dout, qkv, lse, dsum, t, c, nHead, scale, drop, seed);
}
extern "C" __global__ void __launch_bounds__(128) flash_bwd_kv_d32(FLASH_BWD_ARGS)
{
    flash_bwd_kv<32>(dqkv, dout, qkv, lse, dsum, t, c, nHead, scale, drop, seed);
}
extern "C" __global__ void __launch_bounds__(128) flash_bwd_kv_d64(FLASH_BWD_ARGS)
{
    flash_bwd_kv<64>(dqkv, dout, qkv, lse, dsum, t, c, nHead, scale, drop, seed);
}
extern "C" __global__ void __launch_bounds__(128) flash_bwd_q_d16(FLASH_BWD_ARGS)
{
    flash_bwd_q<16>(dqkv, dout, qkv, lse, dsum, t, c, nHead, scale, drop, seed);
}
extern "C" __global__ void __launch_bounds__(128) flash_bwd_q_d32(FLASH_BWD_ARGS)
{
    flash_bwd_q<32>(dqkv, dout, qkv, lse, dsum, t, c, nHead, scale, drop, seed);
}
extern "C" __global__ void __launch_bounds__(128) flash_bwd_q_d64(FLASH_BWD_ARGS)
{
    flash_bwd_q<64>(dqkv, dout, qkv, lse, dsum, t, c, nHead, scale, drop, seed);
}
