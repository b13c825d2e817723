// mma.h: the part of CUDA's WMMA API (nvcuda::wmma) that kernels/*.cu use,
// for the emulator (emu.h). Found before any CUDA header through build.sh's
// -I. A fragment holds its whole tile, row-major, in every lane; the
// collective calls are as strict as the hardware's rules allow an emulator
// to be: pointers must be 32-byte aligned and ldm a multiple of 4 floats,
// operands must have been rounded to TF32 (__float_to_tf32) before mma_sync,
// and a store writes only its lane's share of the tile, so a kernel that
// reads a stored tile without a __syncwarp() first may read stale values.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K>
struct shape;
template <int M, int N, int K>
struct shape<matrix_a, M, N, K> {
    static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct shape<matrix_b, M, N, K> {
    static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct shape<accumulator, M, N, K> {
    static constexpr int rows = M, cols = N;
};

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
    static constexpr int rows = shape<Use, M, N, K>::rows, cols = shape<Use, M, N, K>::cols;
    static constexpr int num_elements = rows * cols;
    float x[num_elements];
};

inline void emu_wmma_check(const void *p, unsigned ldm, const char *what)
{
    if (reinterpret_cast<uintptr_t>(p) % 32 != 0 || ldm % 4 != 0) {
        std::fprintf(stderr, "cuda-emu: wmma %s: pointer %p not 32-byte aligned or ldm %u not a multiple of 4\n",
                     what, p, ldm);
        std::abort();
    }
}

inline float __float_to_tf32(float f)
{
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) {
        u = (u + 0x1000u) & ~0x1fffu; // to nearest, ties away from zero
    }
    std::memcpy(&f, &u, 4);
    return f;
}

inline bool emu_is_tf32(float f)
{
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return (u & 0x1fffu) == 0 || (u & 0x7f800000u) == 0x7f800000u;
}

// Operands: element (r, c) of the tile at p[r*ldm + c] (row_major) or
// p[r + c*ldm] (col_major).
template <typename Use, int M, int N, int K, typename L>
void load_matrix_sync(fragment<Use, M, N, K, precision::tf32, L> &f, const float *p, unsigned ldm)
{
    emu_wmma_check(p, ldm, "load");
    using F = fragment<Use, M, N, K, precision::tf32, L>;
    for (int r = 0; r < F::rows; r++) {
        for (int c = 0; c < F::cols; c++) {
            f.x[r * F::cols + c] = std::is_same_v<L, row_major> ? p[r * ldm + c] : p[r + c * ldm];
        }
    }
}

template <int M, int N, int K>
void load_matrix_sync(fragment<accumulator, M, N, K, float> &f, const float *p, unsigned ldm, layout_t l)
{
    emu_wmma_check(p, ldm, "load");
    for (int r = 0; r < M; r++) {
        for (int c = 0; c < N; c++) {
            f.x[r * N + c] = l == mem_row_major ? p[r * ldm + c] : p[r + c * ldm];
        }
    }
}

int emu_lane();

template <int M, int N, int K>
void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, float> &f, unsigned ldm, layout_t l)
{
    emu_wmma_check(p, ldm, "store");
    for (int e = emu_lane(); e < M * N; e += 32) {
        const int r = e / N, c = e % N;
        (l == mem_row_major ? p[r * ldm + c] : p[r + c * ldm]) = f.x[e];
    }
}

template <typename Use, int M, int N, int K, typename T, typename L>
void fill_fragment(fragment<Use, M, N, K, T, L> &f, float v)
{
    for (float &x : f.x) {
        x = v;
    }
}

// d = a b + c, products of TF32 operands summed in float32.
template <int M, int N, int K, typename LA, typename LB>
void mma_sync(fragment<accumulator, M, N, K, float> &d, const fragment<matrix_a, M, N, K, precision::tf32, LA> &a,
              const fragment<matrix_b, M, N, K, precision::tf32, LB> &b, const fragment<accumulator, M, N, K, float> &c)
{
    for (float x : a.x) {
        if (!emu_is_tf32(x)) {
            std::fprintf(stderr, "cuda-emu: wmma mma_sync: operand %g not rounded to tf32\n", x);
            std::abort();
        }
    }
    for (float x : b.x) {
        if (!emu_is_tf32(x)) {
            std::fprintf(stderr, "cuda-emu: wmma mma_sync: operand %g not rounded to tf32\n", x);
            std::abort();
        }
    }
    float out[M * N];
    for (int r = 0; r < M; r++) {
        for (int n = 0; n < N; n++) {
            float s = c.x[r * N + n];
            for (int k = 0; k < K; k++) {
                s += a.x[r * K + k] * b.x[k * N + n];
            }
            out[r * N + n] = s;
        }
    }
    std::memcpy(d.x, out, sizeof out);
}

} // namespace wmma
} // namespace nvcuda
