// CUDA kernels of the fused RMS norm over the last dim (tensor/cuda/rms_norm.h), the math of
// tensor/cpu/rms_norm.h (derivation: docs/llama.md), sums accumulated in double as there:
//   forward:   rstd = 1 / sqrt(sum_j x_j^2 / D + eps)      xhat_j = x_j rstd      y_j = xhat_j w_j
//   backward:  g_j = dy_j w_j      dx_j = rstd (g_j - xhat_j mean_k(g_k xhat_k))
//              dw_j = sum over rows of dy_j xhat_j
// Forward and dx: one warp per row (as layer norm's), each lane striding the row, the row's sum
// reduced across the warp. dw is a column sum over rows made without floating-point atomics
// (the same bits on every run): a thread per (chunk, column) sums its chunk's rows into a
// scratch buffer, and a second kernel adds the chunks of each column in order.
#include <algorithm>
#include <cmath>

#include "tensor/cuda/rms_norm.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/scratch.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

// dw: at most kMaxChunks chunks of at least kMinChunkRows rows.
constexpr int64_t kMaxChunks = 128, kMinChunkRows = 16;

template <typename T>
__global__ void forward_rows(const T* x, const T* w, T* y, T* rstd, int64_t rows, int64_t D,
                             double eps) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;  // the whole warp leaves together
  const T* xr = x + r * D;
  T* yr = y + r * D;
  double sq = 0;
  for (int64_t j = lane; j < D; j += kWarp) sq += double(xr[j]) * double(xr[j]);
  const double rs = 1.0 / sqrt(warp_sum(sq) / double(D) + eps);
  if (lane == 0) rstd[r] = T(rs);
  for (int64_t j = lane; j < D; j += kWarp) yr[j] = T(double(xr[j]) * rs * double(w[j]));
}

template <typename T>
__global__ void backward_rows(const T* dy, const T* x, const T* w, const T* rstd, T* dx,
                              int64_t rows, int64_t D) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;
  const T* dyr = dy + r * D;
  const T* xr = x + r * D;
  const double rs = rstd[r];
  double sum_gx = 0;
  for (int64_t j = lane; j < D; j += kWarp) sum_gx += double(dyr[j]) * double(w[j]) * xr[j] * rs;
  const double mean_gx = warp_sum(sum_gx) / double(D);
  T* dxr = dx + r * D;
  for (int64_t j = lane; j < D; j += kWarp)
    dxr[j] = T(rs * (double(dyr[j]) * double(w[j]) - xr[j] * rs * mean_gx));
}

// partial [chunks, D]: for chunk c = blockIdx.y (rows [rows c / chunks, rows (c+1) / chunks))
// and column j, the chunk's sum of dy_j xhat_j.
template <typename T>
__global__ void weight_partial_sums(const T* dy, const T* x, const T* rstd, double* partial,
                                    int64_t rows, int64_t D, int64_t chunks) {
  const int64_t c = blockIdx.y;
  const int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < D;
       j += int64_t(gridDim.x) * blockDim.x) {
    double pw = 0;
    for (int64_t r = r0; r < r1; ++r) pw += double(dy[r * D + j]) * x[r * D + j] * double(rstd[r]);
    partial[c * D + j] = pw;
  }
}

// dw [D] = the chunks' partial sums added in chunk order.
template <typename T>
__global__ void weight_grad(const double* partial, T* dw, int64_t D, int64_t chunks) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < D;
       j += int64_t(gridDim.x) * blockDim.x) {
    double sw = 0;
    for (int64_t c = 0; c < chunks; ++c) sw += partial[c * D + j];
    dw[j] = T(sw);
  }
}

}  // namespace

template <typename T>
void rms_norm_forward(Cuda, const T* x, const T* w, T* y, T* rstd, int64_t rows, int64_t D,
                      double eps) {
  if (rows == 0) return;
  forward_rows<<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(x, w, y, rstd, rows, D, eps);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void rms_norm_backward(Cuda, const T* dy, const T* x, const T* w, const T* rstd, T* dx, T* dw,
                       int64_t rows, int64_t D) {
  if (rows == 0) return;
  if (dx) {
    backward_rows<<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(dy, x, w, rstd, dx, rows, D);
    NEAT_CUDA_CHECK(cudaGetLastError());
  }
  if (!dw) return;
  const int64_t chunks = std::max<int64_t>(1, std::min(kMaxChunks, rows / kMinChunkRows));
  Scratch<double> partial(chunks * D);
  weight_partial_sums<<<dim3(blocks_for(D), unsigned(chunks)), kThreads, 0, stream()>>>(
      dy, x, rstd, partial.data(), rows, D, chunks);
  NEAT_CUDA_CHECK(cudaGetLastError());
  weight_grad<<<blocks_for(D), kThreads, 0, stream()>>>(partial.data(), dw, D, chunks);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void rms_norm_forward(Cuda, const float*, const float*, float*, float*, int64_t, int64_t,
                               double);
template void rms_norm_forward(Cuda, const double*, const double*, double*, double*, int64_t,
                               int64_t, double);
template void rms_norm_backward(Cuda, const float*, const float*, const float*, const float*,
                                float*, float*, int64_t, int64_t);
template void rms_norm_backward(Cuda, const double*, const double*, const double*, const double*,
                                double*, double*, int64_t, int64_t);

}  // namespace neat::cuda
