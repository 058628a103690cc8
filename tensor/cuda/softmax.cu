// CUDA kernels of softmax and log-softmax (tensor/cuda/softmax.h), the math of
// tensor/cpu/softmax.h: one warp per row, each lane striding the row's n values (spaced `inner`
// apart), the max and the sums reduced across the warp by shuffles. bfloat16 rows are read and
// written 8 values per 16-byte access where contiguous, their max, sums and exps in float32.
// Sums in math_t<T> (float32 for float32 and bfloat16, double for float64), in an order fixed by
// n alone (each lane's strided partial sum, then warp_sum's fixed shuffle tree): the same bits
// on every run.
//   forward:   y_j = exp(x_j - m) / sum_k exp(x_k - m)   or   x_j - m - log sum_k exp(x_k - m)
//   backward:  dx_j = y_j (dy_j - sum_k dy_k y_k)        or   dy_j - exp(y_j) sum_k dy_k
#include <cmath>

#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/softmax.h"
#include "tensor/cuda/vector_access.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

__device__ inline int64_t row_start(int64_t r, int64_t n, int64_t inner) {
  return (r / inner) * n * inner + r % inner;
}

// W values per access (tensor/cuda/vector_access.cuh): 8 for contiguous bf16 rows (inner = 1)
// that allow it, so that xr + j inner is value j of a run of W; the math in math_t<T>.
template <typename T, int W>
__global__ void softmax_forward_kernel(const T* x, T* y, int64_t rows, int64_t n, int64_t inner,
                                       bool log_output) {
  using M = math_t<T>;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;  // the whole warp leaves together
  const T* xr = x + row_start(r, n, inner);
  T* yr = y + row_start(r, n, inner);
  M v[W];
  M m = -INFINITY;
  for (int64_t j = lane * W; j < n; j += kWarp * W) {
    load_widened<W>(xr + j * inner, v);
    for (int i = 0; i < W; ++i) m = max(m, v[i]);
  }
  m = warp_max(m);
  M sum = 0;
  for (int64_t j = lane * W; j < n; j += kWarp * W) {
    load_widened<W>(xr + j * inner, v);
    for (int i = 0; i < W; ++i) sum += exp(v[i] - m);
  }
  sum = warp_sum(sum);
  const M log_sum = m + log(sum), inv = M(1) / sum;
  for (int64_t j = lane * W; j < n; j += kWarp * W) {
    load_widened<W>(xr + j * inner, v);
    for (int i = 0; i < W; ++i) v[i] = log_output ? v[i] - log_sum : exp(v[i] - m) * inv;
    store_narrowed<W>(yr + j * inner, v);
  }
}

template <typename T, int W>
__global__ void softmax_backward_kernel(const T* dy, const T* y, T* dx, int64_t rows, int64_t n,
                                        int64_t inner, bool log_output) {
  using M = math_t<T>;
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;
  const int64_t o = row_start(r, n, inner);
  M dyv[W], yv[W];
  M dot = 0;
  for (int64_t j = lane * W; j < n; j += kWarp * W) {
    load_widened<W>(dy + o + j * inner, dyv);
    load_widened<W>(y + o + j * inner, yv);
    for (int i = 0; i < W; ++i) dot += log_output ? dyv[i] : dyv[i] * yv[i];
  }
  dot = warp_sum(dot);
  for (int64_t j = lane * W; j < n; j += kWarp * W) {
    load_widened<W>(dy + o + j * inner, dyv);
    load_widened<W>(y + o + j * inner, yv);
    for (int i = 0; i < W; ++i)
      dyv[i] = log_output ? dyv[i] - exp(yv[i]) * dot : yv[i] * (dyv[i] - dot);
    store_narrowed<W>(dx + o + j * inner, dyv);
  }
}

}  // namespace

// A row of n values is read W at a time only when it is contiguous (inner = 1).
template <typename T>
void softmax_forward(Cuda, const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                     bool log_output) {
  const int64_t rows = outer * inner;
  if (rows == 0 || n == 0) return;
  with_vector_width<T>(inner == 1 ? n : 1, {x, y}, [&](auto width) {
    softmax_forward_kernel<T, width()><<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(
        x, y, rows, n, inner, log_output);
  });
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void softmax_backward(Cuda, const T* dy, const T* y, T* dx, int64_t outer, int64_t n,
                      int64_t inner, bool log_output) {
  const int64_t rows = outer * inner;
  if (rows == 0 || n == 0) return;
  with_vector_width<T>(inner == 1 ? n : 1, {dy, y, dx}, [&](auto width) {
    softmax_backward_kernel<T, width()><<<row_blocks(rows), kRowsPerBlock * kWarp, 0, stream()>>>(
        dy, y, dx, rows, n, inner, log_output);
  });
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void softmax_forward(Cuda, const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_backward(Cuda, const float*, const float*, float*, int64_t, int64_t, int64_t, bool);
template void softmax_forward(Cuda, const double*, double*, int64_t, int64_t, int64_t, bool);
template void softmax_backward(Cuda, const double*, const double*, double*, int64_t, int64_t, int64_t, bool);
template void softmax_forward(Cuda, const bfloat16*, bfloat16*, int64_t, int64_t, int64_t, bool);
template void softmax_backward(Cuda, const bfloat16*, const bfloat16*, bfloat16*, int64_t, int64_t,
                               int64_t, bool);

}  // namespace neat::cuda
