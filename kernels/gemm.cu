// Matrix products on the GPU: our own tiled SGEMM, used for the Linear ops
// when cuBLAS cannot be loaded, and for the batched causal products of
// attention (one (batch, head) pair per blockIdx.z), whatever cuBLAS does.
//
// Row-major, as kernels.Sgemm: C = alpha*op(A)@op(B) + beta*C, op(A) M×K,
// op(B) K×N, lda/ldb/ldc row strides; C is not read when beta is 0.
// Batch z = zo*nInner + zi offsets each matrix by zo*outer + zi*inner
// elements, which addresses a head's columns inside qkv (b*t, 3c) as well as
// the (b, nHead, t, t) probabilities.
//
// mode limits the work to the causal structure of attention:
//   0  full product
//   1  C is t×t lower-triangular: 64×64 tiles above the diagonal are skipped
//      (their elements are left as they were)
//   2  A is lower-triangular: row i only sums k <= i (tile granularity)
//   3  op(A) is upper-triangular (A = Pᵀ): row i only sums k >= i
// mask, when not null, multiplies A elementwise as it is loaded (same
// layout as A): attention's dropout multipliers on P.
//
// CPU twins: kernels.Sgemm, and kernels.AttentionForward/Backward for the
// batched causal products.

#define TM 64
#define TN 64
#define TK 16

template <bool TA, bool TB>
__device__ __forceinline__ void gemm_tile(
    int mode, int M, int N, int K, float alpha,
    const float *__restrict__ A, int lda, long long aOuter, long long aInner,
    const float *__restrict__ mask,
    const float *__restrict__ B, int ldb, long long bOuter, long long bInner,
    float beta, float *__restrict__ C, int ldc, long long cOuter, long long cInner,
    int nInner)
{
    // +1 pads the k-major tiles so that transposing stores hit distinct banks.
    __shared__ float As[TK][TM + 1];
    __shared__ float Bs[TK][TN + 1];

    const int z = blockIdx.z;
    const long long zo = z / nInner, zi = z % nInner;
    A += zo * aOuter + zi * aInner;
    if (mask != nullptr) {
        mask += zo * aOuter + zi * aInner;
    }
    B += zo * bOuter + zi * bInner;
    C += zo * cOuter + zi * cInner;

    const int row0 = blockIdx.y * TM, col0 = blockIdx.x * TN;
    if (mode == 1 && col0 > row0 + TM - 1) {
        return;
    }
    int kBegin = 0, kEnd = K;
    if (mode == 2) {
        kEnd = min(K, row0 + TM);
    } else if (mode == 3) {
        kBegin = row0 / TK * TK;
    }

    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    float acc[4][4];
#pragma unroll
    for (int r = 0; r < 4; r++) {
#pragma unroll
        for (int c = 0; c < 4; c++) {
            acc[r][c] = 0.f;
        }
    }

    for (int k0 = kBegin; k0 < kEnd; k0 += TK) {
#pragma unroll
        for (int l = 0; l < (TM * TK) / 256; l++) {
            int idx = tid + 256 * l, i, p;
            if (TA) { // A is K×M: consecutive threads read consecutive i
                p = idx / TM;
                i = idx % TM;
            } else { // A is M×K: consecutive threads read consecutive p
                i = idx / TK;
                p = idx % TK;
            }
            int gi = row0 + i, gp = k0 + p;
            float v = 0.f;
            if (gi < M && gp < kEnd) {
                long long off = TA ? (long long)gp * lda + gi : (long long)gi * lda + gp;
                v = A[off];
                if (mask != nullptr) {
                    v *= mask[off];
                }
            }
            As[p][i] = v;
        }
#pragma unroll
        for (int l = 0; l < (TN * TK) / 256; l++) {
            int idx = tid + 256 * l, j, p;
            if (TB) { // B is N×K
                j = idx / TK;
                p = idx % TK;
            } else { // B is K×N
                p = idx / TN;
                j = idx % TN;
            }
            int gj = col0 + j, gp = k0 + p;
            float v = 0.f;
            if (gj < N && gp < kEnd) {
                v = TB ? B[(long long)gj * ldb + gp] : B[(long long)gp * ldb + gj];
            }
            Bs[p][j] = v;
        }
        __syncthreads();
#pragma unroll
        for (int p = 0; p < TK; p++) {
            float a[4], b[4];
#pragma unroll
            for (int r = 0; r < 4; r++) {
                a[r] = As[p][ty + 16 * r];
            }
#pragma unroll
            for (int c = 0; c < 4; c++) {
                b[c] = Bs[p][tx + 16 * c];
            }
#pragma unroll
            for (int r = 0; r < 4; r++) {
#pragma unroll
                for (int c = 0; c < 4; c++) {
                    acc[r][c] = fmaf(a[r], b[c], acc[r][c]);
                }
            }
        }
        __syncthreads();
    }

#pragma unroll
    for (int r = 0; r < 4; r++) {
        int gi = row0 + ty + 16 * r;
        if (gi >= M) {
            continue;
        }
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int gj = col0 + tx + 16 * c;
            if (gj >= N) {
                continue;
            }
            float *out = &C[(long long)gi * ldc + gj];
            float v = alpha * acc[r][c];
            *out = beta == 0.f ? v : fmaf(beta, *out, v);
        }
    }
}

#define GEMM_KERNEL(name, TA, TB)                                                          \
    extern "C" __global__ void __launch_bounds__(256) name(                                \
        int mode, int M, int N, int K, float alpha,                                        \
        const float *A, int lda, long long aOuter, long long aInner, const float *mask,    \
        const float *B, int ldb, long long bOuter, long long bInner,                       \
        float beta, float *C, int ldc, long long cOuter, long long cInner, int nInner)     \
    {                                                                                      \
        gemm_tile<TA, TB>(mode, M, N, K, alpha, A, lda, aOuter, aInner, mask,              \
                          B, ldb, bOuter, bInner, beta, C, ldc, cOuter, cInner, nInner);   \
    }

GEMM_KERNEL(gemm_nn_f32, false, false)
GEMM_KERNEL(gemm_nt_f32, false, true)
GEMM_KERNEL(gemm_tn_f32, true, false)
GEMM_KERNEL(gemm_tt_f32, true, true)
