// CUDA kernels of softmax and log-softmax (tensor/cuda/softmax.h), the math of
// tensor/cpu/softmax.h: one warp per row, each lane striding the row's n values (spaced `inner`
// apart), the max and the sums reduced across the warp by shuffles.
//   forward:   y_j = exp(x_j - m) / sum_k exp(x_k - m)   or   x_j - m - log sum_k exp(x_k - m)
//   backward:  dx_j = y_j (dy_j - sum_k dy_k y_k)        or   dy_j - exp(y_j) sum_k dy_k
#include <cmath>

#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/softmax.h"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

__device__ inline int64_t row_start(int64_t r, int64_t n, int64_t inner) {
  return (r / inner) * n * inner + r % inner;
}

template <typename T>
__global__ void softmax_forward_kernel(const T* x, T* y, int64_t rows, int64_t n, int64_t inner,
                                       bool log_output) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;  // the whole warp leaves together
  const T* xr = x + row_start(r, n, inner);
  T* yr = y + row_start(r, n, inner);
  T m = -INFINITY;
  for (int64_t j = lane; j < n; j += kWarp) m = max(m, xr[j * inner]);
  m = warp_max(m);
  T sum = 0;
  for (int64_t j = lane; j < n; j += kWarp) sum += exp(xr[j * inner] - m);
  sum = warp_sum(sum);
  if (log_output) {
    const T log_sum = m + log(sum);
    for (int64_t j = lane; j < n; j += kWarp) yr[j * inner] = xr[j * inner] - log_sum;
  } else {
    const T inv = T(1) / sum;
    for (int64_t j = lane; j < n; j += kWarp) yr[j * inner] = exp(xr[j * inner] - m) * inv;
  }
}

template <typename T>
__global__ void softmax_backward_kernel(const T* dy, const T* y, T* dx, int64_t rows, int64_t n,
                                        int64_t inner, bool log_output) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;
  const int64_t o = row_start(r, n, inner);
  T dot = 0;
  for (int64_t j = lane; j < n; j += kWarp) {
    const int64_t i = o + j * inner;
    dot += log_output ? dy[i] : dy[i] * y[i];
  }
  dot = warp_sum(dot);
  for (int64_t j = lane; j < n; j += kWarp) {
    const int64_t i = o + j * inner;
    dx[i] = log_output ? dy[i] - exp(y[i]) * dot : y[i] * (dy[i] - dot);
  }
}

}  // namespace

template <typename T>
void softmax_forward(Cuda, const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                     bool log_output) {
  const int64_t rows = outer * inner;
  if (rows == 0 || n == 0) return;
  softmax_forward_kernel<<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(x, y, rows, n, inner, log_output);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void softmax_backward(Cuda, const T* dy, const T* y, T* dx, int64_t outer, int64_t n,
                      int64_t inner, bool log_output) {
  const int64_t rows = outer * inner;
  if (rows == 0 || n == 0) return;
  softmax_backward_kernel<<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(dy, y, dx, rows, n, inner, log_output);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void softmax_forward(Cuda, const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_forward(Cuda, const double*, double*, int64_t, int64_t, int64_t, bool);
template void softmax_backward(Cuda, const float*, const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_backward(Cuda, const double*, const double*, double*, int64_t, int64_t, int64_t, bool);

}  // namespace neat::cuda
