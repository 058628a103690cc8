// CUDA kernels of the fused RMS norm over the last dim (tensor/cuda/rms_norm.h), the math of
// tensor/cpu/rms_norm.h (derivation: docs/llama.md):
//   forward:   rstd = 1 / sqrt(sum_j x_j^2 / D + eps)      xhat_j = x_j rstd      y_j = xhat_j w_j
//   backward:  g_j = dy_j w_j      dx_j = rstd (g_j - xhat_j mean_k(g_k xhat_k))
//              dw_j = sum over rows of dy_j xhat_j
// Forward and dx: one warp per row (as layer norm's), each lane striding the row, the row's sum
// reduced across the warp; bfloat16 rows 8 values per 16-byte access. Sums accumulate in
// math_t<T> (float32 for float32 and bfloat16 rows, double for float64) in an order fixed by D
// alone (each lane's strided partial sum, then the warp's fixed shuffle tree:
// tensor/cuda/warp_reduce.cuh), the same bits on every run. dw is a column sum over rows made
// without floating-point atomics: a thread per (chunk, column) sums its chunk's rows in order
// into a scratch buffer, and a second kernel adds the chunks of each column in order.
#include <algorithm>
#include <cmath>

#include "tensor/cuda/rms_norm.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/scratch.cuh"
#include "tensor/cuda/vector_access.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

// dw: at most kMaxChunks chunks of at least kMinChunkRows rows.
constexpr int64_t kMaxChunks = 128, kMinChunkRows = 16;

// W values per access (tensor/cuda/vector_access.cuh): 8 for bf16 rows that allow it.
template <typename T, int W>
__global__ void forward_rows(const T* x, const T* w, T* y, math_t<T>* rstd, int64_t rows,
                             int64_t D, double eps) {
  using M = math_t<T>;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;  // the whole warp leaves together
  const T* xr = x + r * D;
  T* yr = y + r * D;
  M v[W], wv[W];
  M sq = 0;
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(xr + j, v);
    for (int i = 0; i < W; ++i) sq += v[i] * v[i];
  }
  const M rs = M(1) / sqrt(warp_sum(sq) / M(D) + M(eps));
  if (lane == 0) rstd[r] = rs;
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(xr + j, v);
    load_widened<W>(w + j, wv);
    for (int i = 0; i < W; ++i) v[i] = v[i] * rs * wv[i];
    store_narrowed<W>(yr + j, v);
  }
}

template <typename T, int W>
__global__ void backward_rows(const T* dy, const T* x, const T* w, const math_t<T>* rstd, T* dx,
                              int64_t rows, int64_t D) {
  using M = math_t<T>;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;
  const T* dyr = dy + r * D;
  const T* xr = x + r * D;
  const M rs = rstd[r];
  M dyv[W], xv[W], wv[W];
  M sum_gx = 0;
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(dyr + j, dyv);
    load_widened<W>(xr + j, xv);
    load_widened<W>(w + j, wv);
    for (int i = 0; i < W; ++i) sum_gx += dyv[i] * wv[i] * xv[i] * rs;
  }
  const M mean_gx = warp_sum(sum_gx) / M(D);
  T* dxr = dx + r * D;
  for (int64_t j = lane * W; j < D; j += kWarp * W) {
    load_widened<W>(dyr + j, dyv);
    load_widened<W>(xr + j, xv);
    load_widened<W>(w + j, wv);
    for (int i = 0; i < W; ++i) dyv[i] = rs * (dyv[i] * wv[i] - xv[i] * rs * mean_gx);
    store_narrowed<W>(dxr + j, dyv);
  }
}

// partial [chunks, D]: for chunk c = blockIdx.y (rows [rows c / chunks, rows (c+1) / chunks))
// and column j, the chunk's sum of dy_j xhat_j.
template <typename T>
__global__ void weight_partial_sums(const T* dy, const T* x, const math_t<T>* rstd,
                                    math_t<T>* partial, int64_t rows, int64_t D, int64_t chunks) {
  using M = math_t<T>;
  const int64_t c = blockIdx.y;
  const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < D;
       j += int64_t(gridDim.x) * blockDim.x) {
    M pw = 0;
    for (int64_t r = r0; r < r1; ++r) pw += M(dy[r * D + j]) * M(x[r * D + j]) * rstd[r];
    partial[c * D + j] = pw;
  }
}

// dw [D] = the chunks' partial sums added in chunk order.
template <typename T>
__global__ void weight_grad(const math_t<T>* partial, T* dw, int64_t D, int64_t chunks) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < D;
       j += int64_t(gridDim.x) * blockDim.x) {
    math_t<T> sw = 0;
    for (int64_t c = 0; c < chunks; ++c) sw += partial[c * D + j];
    dw[j] = T(sw);
  }
}

}  // namespace

template <typename T>
void rms_norm_forward(Cuda, const T* x, const T* w, T* y, math_t<T>* rstd, int64_t rows,
                      int64_t D, double eps) {
  if (rows == 0) return;
  with_vector_width<T>(D, {x, w, y}, [&](auto width) {
    forward_rows<T, width()><<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(
        x, w, y, rstd, rows, D, eps);
  });
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void rms_norm_backward(Cuda, const T* dy, const T* x, const T* w, const math_t<T>* rstd, T* dx,
                       T* dw, int64_t rows, int64_t D) {
  if (rows == 0) return;
  if (dx) {
    with_vector_width<T>(D, {dy, x, w, dx}, [&](auto width) {
      backward_rows<T, width()><<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(
          dy, x, w, rstd, dx, rows, D);
    });
    NEAT_CUDA_CHECK(cudaGetLastError());
  }
  if (!dw) return;
  const int64_t chunks = std::max<int64_t>(1, std::min(kMaxChunks, rows / kMinChunkRows));
  Scratch<math_t<T>> partial(chunks * D);
  weight_partial_sums<<<dim3(blocks_for(D), unsigned(chunks)), kThreads, 0, stream()>>>(
      dy, x, rstd, partial.data(), rows, D, chunks);
  NEAT_CUDA_CHECK(cudaGetLastError());
  weight_grad<<<blocks_for(D), kThreads, 0, stream()>>>(partial.data(), dw, D, chunks);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void rms_norm_forward(Cuda, const float*, const float*, float*, float*, int64_t, int64_t,
                               double);
template void rms_norm_backward(Cuda, const float*, const float*, const float*, const float*,
                                float*, float*, int64_t, int64_t);
template void rms_norm_forward(Cuda, const double*, const double*, double*, double*, int64_t,
                               int64_t, double);
template void rms_norm_backward(Cuda, const double*, const double*, const double*, const double*,
                                double*, double*, int64_t, int64_t);
template void rms_norm_forward(Cuda, const bfloat16*, const bfloat16*, bfloat16*, float*, int64_t,
                               int64_t, double);
template void rms_norm_backward(Cuda, const bfloat16*, const bfloat16*, const bfloat16*,
                                const float*, bfloat16*, bfloat16*, int64_t, int64_t);

}  // namespace neat::cuda
