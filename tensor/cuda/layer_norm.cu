// CUDA kernels of the fused layer norm over the last dim (tensor/cuda/layer_norm.h), the math of
// tensor/cpu/layer_norm.h (derivation: docs/layer_norm.md), sums accumulated in double as there:
//   forward:   mean = sum_j x_j / D      var = sum_j (x_j - mean)^2 / D (biased, as PyTorch)
//              rstd = 1 / sqrt(var + eps)      xhat_j = (x_j - mean) rstd      y_j = xhat_j w_j + b_j
//   backward:  g_j = dy_j w_j
//              dx_j = rstd (g_j - mean_k g_k - xhat_j mean_k(g_k xhat_k))
//              dw_j = sum over rows of dy_j xhat_j      db_j = sum over rows of dy_j
// Forward and dx: one warp per row (as softmax), each lane striding the row, the row's sums
// reduced across the warp; bfloat16 rows 8 values per 16-byte access, their sums in float32,
// mean and rstd float32, y and dx rounded once as stored. dw and db are column sums over rows,
// made without floating-point atomics, so they are the same bits on every run: the rows are
// cut into chunks (their number depends on the sizes only), a thread per (chunk, column) sums
// its chunk's rows into a scratch buffer, and a second kernel adds the chunks of each column
// in order.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "tensor/cuda/layer_norm.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/scratch.cuh"
#include "tensor/cuda/vector_access.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

// dw and db: at most kMaxChunks chunks of at least kMinChunkRows rows.
constexpr int64_t kMaxChunks = 128, kMinChunkRows = 16;

// The row kernels' sums: double for float32 and float64 rows (as the CPU's), float32 for 16-bit
// rows (whose values carry 8 bits; the variance is a second pass over x - mean, so a large mean
// costs it nothing).
template <typename T>
using acc_t = std::conditional_t<is_half_type<T>, float, double>;

// W values per access (tensor/cuda/vector_access.cuh): 8 for bf16 rows that allow it.
template <typename T, int W>
__global__ void forward_rows(const T* x, const T* w, const T* b, T* y, math_t<T>* mean,
                             math_t<T>* rstd, int64_t rows, int64_t D, double eps) {
  using M = math_t<T>;
  using A = acc_t<T>;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;  // the whole warp leaves together
  const T* xr = x + r * D;
  T* yr = y + r * D;
  M v[W], wv[W], bv[W];
  A sum = 0;
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(xr + j, v);
    for (int i = 0; i < W; ++i) sum += v[i];
  }
  const A mu = warp_sum(sum) / A(D);
  A sq = 0;
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(xr + j, v);
    for (int i = 0; i < W; ++i) sq += (v[i] - mu) * (v[i] - mu);
  }
  const A rs = A(1) / sqrt(warp_sum(sq) / A(D) + A(eps));
  if (lane == 0) {
    mean[r] = M(mu);
    rstd[r] = M(rs);
  }
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(xr + j, v);
    if (w) load_widened<W>(w + j, wv);
    if (b) load_widened<W>(b + j, bv);
    for (int i = 0; i < W; ++i) {
      const A xhat = (v[i] - mu) * rs;
      v[i] = M(xhat * (w ? A(wv[i]) : A(1)) + (b ? A(bv[i]) : A(0)));
    }
    store_narrowed<W>(yr + j, v);
  }
}

template <typename T, int W>
__global__ void backward_rows(const T* dy, const T* x, const T* w, const math_t<T>* mean,
                              const math_t<T>* rstd, T* dx, int64_t rows, int64_t D) {
  using M = math_t<T>;
  using A = acc_t<T>;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;
  const T* dyr = dy + r * D;
  const T* xr = x + r * D;
  const A mu = mean[r], rs = rstd[r];
  M dyv[W], xv[W], wv[W];
  A sum_g = 0, sum_gx = 0;
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(dyr + j, dyv);
    load_widened<W>(xr + j, xv);
    if (w) load_widened<W>(w + j, wv);
    for (int i = 0; i < W; ++i) {
      const A g = dyv[i] * (w ? A(wv[i]) : A(1));
      sum_g += g;
      sum_gx += g * (xv[i] - mu) * rs;
    }
  }
  const A mean_g = warp_sum(sum_g) / A(D), mean_gx = warp_sum(sum_gx) / A(D);
  T* dxr = dx + r * D;
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(dyr + j, dyv);
    load_widened<W>(xr + j, xv);
    if (w) load_widened<W>(w + j, wv);
    for (int i = 0; i < W; ++i) {
      const A g = dyv[i] * (w ? A(wv[i]) : A(1));
      dyv[i] = M(rs * (g - mean_g - (xv[i] - mu) * rs * mean_gx));
    }
    store_narrowed<W>(dxr + j, dyv);
  }
}

// partial [chunks, 2, D]: for chunk c = blockIdx.y (rows [rows c / chunks, rows (c+1) / chunks))
// and column j, the chunk's sum of dy_j xhat_j, then of dy_j.
template <typename T>
__global__ void param_partial_sums(const T* dy, const T* x, const math_t<T>* mean,
                                   const math_t<T>* rstd, double* partial, int64_t rows,
                                   int64_t D, int64_t chunks) {
  using M = math_t<T>;
  const int64_t c = blockIdx.y;
  const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < D; j += int64_t(gridDim.x) * blockDim.x) {
    double pw = 0, pb = 0;
    for (int64_t r = r0; r < r1; ++r) {
      const double mu = mean[r], rs = rstd[r], g = M(dy[r * D + j]);
      pw += g * (M(x[r * D + j]) - mu) * rs;
      pb += g;
    }
    partial[c * 2 * D + j] = pw;
    partial[c * 2 * D + D + j] = pb;
  }
}

// dw, db [D] (either may be null) = the chunks' partial sums added in chunk order.
template <typename T>
__global__ void param_grads(const double* partial, T* dw, T* db, int64_t D, int64_t chunks) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < D; j += int64_t(gridDim.x) * blockDim.x) {
    double sw = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += partial[c * 2 * D + j];
      sb += partial[c * 2 * D + D + j];
    }
    if (dw) dw[j] = T(sw);
    if (db) db[j] = T(sb);
  }
}

}  // namespace

template <typename T>
void layer_norm_forward(Cuda, const T* x, const T* w, const T* b, T* y, math_t<T>* mean,
                        math_t<T>* rstd, int64_t rows, int64_t D, double eps) {
  if (rows == 0) return;
  with_vector_width<T>(D, {x, w, b, y}, [&](auto width) {
    forward_rows<T, width()><<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(
        x, w, b, y, mean, rstd, rows, D, eps);
  });
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void layer_norm_backward(Cuda, const T* dy, const T* x, const T* w, const math_t<T>* mean,
                         const math_t<T>* rstd, T* dx, T* dw, T* db, int64_t rows, int64_t D) {
  if (dx && rows > 0) {
    with_vector_width<T>(D, {dy, x, w, dx}, [&](auto width) {
      backward_rows<T, width()><<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(
          dy, x, w, mean, rstd, dx, rows, D);
    });
    NEAT_CUDA_CHECK(cudaGetLastError());
  }
  if (!dw && !db) return;
  const int64_t chunks = std::max<int64_t>(1, std::min(kMaxChunks, rows / kMinChunkRows));
  Scratch<double> partial(chunks * 2 * D);
  param_partial_sums<<<dim3(blocks_for(D), unsigned(chunks)), kThreads, 0, stream()>>>(
      dy, x, mean, rstd, partial.data(), rows, D, chunks);
  NEAT_CUDA_CHECK(cudaGetLastError());
  param_grads<<<blocks_for(D), kThreads, 0, stream()>>>(partial.data(), dw, db, D, chunks);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void layer_norm_forward(Cuda, const float*, const float*, const float*, float*, float*,
                                 float*, int64_t, int64_t, double);
template void layer_norm_backward(Cuda, const float*, const float*, const float*, const float*,
                                  const float*, float*, float*, float*, int64_t, int64_t);
template void layer_norm_forward(Cuda, const double*, const double*, const double*, double*,
                                 double*, double*, int64_t, int64_t, double);
template void layer_norm_backward(Cuda, const double*, const double*, const double*, const double*,
                                  const double*, double*, double*, double*, int64_t, int64_t);
template void layer_norm_forward(Cuda, const bfloat16*, const bfloat16*, const bfloat16*, bfloat16*,
                                 float*, float*, int64_t, int64_t, double);
template void layer_norm_backward(Cuda, const bfloat16*, const bfloat16*, const bfloat16*,
                                  const float*, const float*, bfloat16*, bfloat16*, bfloat16*,
                                  int64_t, int64_t);

}  // namespace neat::cuda
