// The bias parts of Linear on the GPU: the forward fills each output row
// with the bias before the product adds x@W (beta 1), as linearOp.Forward
// does; the backward's db is a column sum of dy, in two deterministic passes.
//
// CPU twins: the bias copy in linearOp.Forward and sumRows.

// bias_rows_f32 writes y[r, j] = b[j] for r < n, j < c.
extern "C" __global__ void bias_rows_f32(float *y, const float *b, int n, int c)
{
    const long long total = (long long)n * c;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        y[e] = b[e % c];
    }
}

// colsum_partial_f32 writes part[k*c + j] = sum of x[r, j] over the rows r of
// chunk k (rows k*chunk .. (k+1)*chunk). Block (32, 8): 32 columns, 8 row lanes.
extern "C" __global__ void colsum_partial_f32(float *part, const float *x, int n, int c, int chunk)
{
    __shared__ float s[8][33];
    const int j = blockIdx.x * 32 + threadIdx.x, k = blockIdx.y;
    const int r0 = k * chunk, r1 = min(n, r0 + chunk);
    float acc = 0.f;
    if (j < c) {
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            acc += x[(long long)r * c + j];
        }
    }
    s[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && j < c) {
        float t = 0.f;
#pragma unroll
        for (int y = 0; y < 8; y++) {
            t += s[y][threadIdx.x];
        }
        part[(long long)k * c + j] = t;
    }
}

// colsum_reduce_f32 overwrites out[j] with the sum of part[k*c + j] over k < chunks.
extern "C" __global__ void colsum_reduce_f32(float *out, const float *part, int chunks, int c)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) {
        return;
    }
    float s = 0.f;
    for (int k = 0; k < chunks; k++) {
        s += part[(long long)k * c + j];
    }
    out[j] = s;
}
