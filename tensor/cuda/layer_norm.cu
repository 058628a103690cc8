// CUDA kernels of the fused layer norm over the last dim (tensor/cuda/layer_norm.h), the math of
// tensor/cpu/layer_norm.h (derivation: docs/layer_norm.md), and of the residual add fused into it
// (add_layer_norm: the plain ops h = x + residual, then layer_norm(h)):
//   add:       h_j = x_j + residual_j (rounded to T, as add stores it)       (add_layer_norm only)
//   forward:   mean = sum_j x_j / D      var = sum_j (x_j - mean)^2 / D (biased, as PyTorch)
//              rstd = 1 / sqrt(var + eps)      xhat_j = (x_j - mean) rstd      y_j = xhat_j w_j + b_j
//   backward:  g_j = dy_j w_j
//              dx_j = rstd (g_j - mean_k g_k - xhat_j mean_k(g_k xhat_k))
//              dw_j = sum over rows of dy_j xhat_j      db_j = sum over rows of dy_j
// Forward and dx: one warp per row (as softmax), each lane striding the row, the row's sums
// reduced across the warp; bfloat16 rows 8 values per 16-byte access. Sums accumulate in
// math_t<T>: float32 for float32 and bfloat16 rows, double for float64, in an order fixed by D
// alone (tensor/cuda/warp_reduce.cuh: each lane's strided partial sum, then the warp's fixed
// shuffle tree), so every run and launch gives the same bits. The variance is two-pass: the
// mean first, then the sum of (x_j - mean)^2, which has no cancellation (a float32 one-pass
// sum of squares minus mean^2 would lose the variance of a row with a large mean). y and dx
// are rounded once as stored. dw and db are column sums over rows, made without floating-point
// atomics: the rows are cut into chunks (their number depends on the sizes only), a thread per
// (chunk, column) sums its chunk's rows in order into a scratch buffer, and a second kernel adds
// the chunks of each column in order.
#include <algorithm>
#include <cmath>

#include "tensor/cuda/layer_norm.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/scratch.cuh"
#include "tensor/cuda/vector_access.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

// dw and db: at most kMaxChunks chunks of at least kMinChunkRows rows.
constexpr int64_t kMaxChunks = 128, kMinChunkRows = 16;

// x, y, h [rows, D]; residual and h null for a plain layer norm, else h = x + residual is
// stored and normalised. W values per access (tensor/cuda/vector_access.cuh): 8 for bf16 rows
// that allow it.
template <typename T, int W>
__global__ void forward_rows(const T* x, const T* residual, T* h, const T* w, const T* b, T* y,
                             math_t<T>* mean, math_t<T>* rstd, int64_t rows, int64_t D,
                             double eps) {
  using M = math_t<T>;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;  // the whole warp leaves together
  const T* xr = x + r * D;
  T* yr = y + r * D;
  M v[W], wv[W], bv[W];
  M sum = 0;
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(xr + j, v);
    if (residual) {
      load_widened<W>(residual + r * D + j, wv);
      for (int i = 0; i < W; ++i) v[i] = M(T(v[i] + wv[i]));  // rounded as h is stored
      store_narrowed<W>(h + r * D + j, v);
    }
    for (int i = 0; i < W; ++i) sum += v[i];
  }
  // The later passes read the row back: h, which this lane itself wrote, for add_layer_norm.
  if (residual) xr = h + r * D;
  const M mu = warp_sum(sum) / M(D);
  M sq = 0;
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(xr + j, v);
    for (int i = 0; i < W; ++i) sq += (v[i] - mu) * (v[i] - mu);
  }
  const M rs = M(1) / sqrt(warp_sum(sq) / M(D) + M(eps));
  if (lane == 0) {
    mean[r] = mu;
    rstd[r] = rs;
  }
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(xr + j, v);
    if (w) load_widened<W>(w + j, wv);
    if (b) load_widened<W>(b + j, bv);
    for (int i = 0; i < W; ++i) v[i] = (v[i] - mu) * rs * (w ? wv[i] : M(1)) + (b ? bv[i] : M(0));
    store_narrowed<W>(yr + j, v);
  }
}

// g = dy w rounded on its own: never contracted with the later g - mean_g into one fused
// multiply-add, which would leave a row whose xhat is 0 (D = 1) with dx = rstd times g's
// rounding error instead of 0 (the CPU's value).
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }

// One pass of the backward over lane's runs of a row: f(j, g, xhat) with g_i = dy w and xhat_i
// of the W values from j on. The sums' pass and dx's pass both go through it, so both see the
// same g and xhat.
template <typename T, int W, typename F>
__device__ inline void over_backward_row(const T* dyr, const T* xr, const T* w, math_t<T> mu,
                                         math_t<T> rs, int64_t D, int lane, F f) {
  using M = math_t<T>;
  M dyv[W], xv[W], wv[W];
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(dyr + j, dyv);
    load_widened<W>(xr + j, xv);
    if (w) load_widened<W>(w + j, wv);
    for (int i = 0; i < W; ++i) {
      if (w) dyv[i] = mul_rn(dyv[i], wv[i]);  // g
      xv[i] = (xv[i] - mu) * rs;              // xhat
    }
    f(j, dyv, xv);
  }
}

template <typename T, int W>
__global__ void backward_rows(const T* dy, const T* x, const T* w, const math_t<T>* mean,
                              const math_t<T>* rstd, T* dx, int64_t rows, int64_t D) {
  using M = math_t<T>;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;
  const T* dyr = dy + r * D;
  const T* xr = x + r * D;
  const M mu = mean[r], rs = rstd[r];
  M sum_g = 0, sum_gx = 0;
  over_backward_row<T, W>(dyr, xr, w, mu, rs, D, lane, [&](int64_t, M (&g)[W], M (&xhat)[W]) {
    for (int i = 0; i < W; ++i) {
      sum_g += g[i];
      sum_gx += g[i] * xhat[i];
    }
  });
  const M mean_g = warp_sum(sum_g) / M(D), mean_gx = warp_sum(sum_gx) / M(D);
  T* dxr = dx + r * D;
  over_backward_row<T, W>(dyr, xr, w, mu, rs, D, lane, [&](int64_t j, M (&g)[W], M (&xhat)[W]) {
    for (int i = 0; i < W; ++i) g[i] = rs * (g[i] - mean_g - xhat[i] * mean_gx);
    store_narrowed<W>(dxr + j, g);
  });
}

// partial [chunks, 2, D]: for chunk c = blockIdx.y (rows [rows c / chunks, rows (c+1) / chunks))
// and column j, the chunk's sum of dy_j xhat_j, then of dy_j, in math_t<T>, rows in order.
template <typename T>
__global__ void param_partial_sums(const T* dy, const T* x, const math_t<T>* mean,
                                   const math_t<T>* rstd, math_t<T>* partial, int64_t rows,
                                   int64_t D, int64_t chunks) {
  using M = math_t<T>;
  const int64_t c = blockIdx.y;
  const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < D; j += int64_t(gridDim.x) * blockDim.x) {
    M pw = 0, pb = 0;
    for (int64_t r = r0; r < r1; ++r) {
      const M g = M(dy[r * D + j]);
      pw += g * ((M(x[r * D + j]) - mean[r]) * rstd[r]);
      pb += g;
    }
    partial[c * 2 * D + j] = pw;
    partial[c * 2 * D + D + j] = pb;
  }
}

// dw, db [D] (either may be null) = the chunks' partial sums added in chunk order.
template <typename T>
__global__ void param_grads(const math_t<T>* partial, T* dw, T* db, int64_t D, int64_t chunks) {
  using M = math_t<T>;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < D; j += int64_t(gridDim.x) * blockDim.x) {
    M sw = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += partial[c * 2 * D + j];
      sb += partial[c * 2 * D + D + j];
    }
    if (dw) dw[j] = T(sw);
    if (db) db[j] = T(sb);
  }
}

template <typename T>
void launch_forward(const T* x, const T* residual, T* h, const T* w, const T* b, T* y,
                    math_t<T>* mean, math_t<T>* rstd, int64_t rows, int64_t D, double eps) {
  if (rows == 0) return;
  with_vector_width<T>(D, {x, residual, h, w, b, y}, [&](auto width) {
    forward_rows<T, width()><<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(
        x, residual, h, w, b, y, mean, rstd, rows, D, eps);
  });
  NEAT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

template <typename T>
void layer_norm_forward(Cuda, const T* x, const T* w, const T* b, T* y, math_t<T>* mean,
                        math_t<T>* rstd, int64_t rows, int64_t D, double eps) {
  launch_forward<T>(x, nullptr, nullptr, w, b, y, mean, rstd, rows, D, eps);
}

template <typename T>
void add_layer_norm_forward(Cuda, const T* x, const T* residual, const T* w, const T* b, T* h,
                            T* y, math_t<T>* mean, math_t<T>* rstd, int64_t rows, int64_t D,
                            double eps) {
  launch_forward<T>(x, residual, h, w, b, y, mean, rstd, rows, D, eps);
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
  Scratch<math_t<T>> partial(chunks * 2 * D);
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
template void add_layer_norm_forward(Cuda, const float*, const float*, const float*, const float*,
                                     float*, float*, float*, float*, int64_t, int64_t, double);
template void add_layer_norm_forward(Cuda, const double*, const double*, const double*,
                                     const double*, double*, double*, double*, double*, int64_t,
                                     int64_t, double);
template void add_layer_norm_forward(Cuda, const bfloat16*, const bfloat16*, const bfloat16*,
                                     const bfloat16*, bfloat16*, bfloat16*, float*, float*,
                                     int64_t, int64_t, double);
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
