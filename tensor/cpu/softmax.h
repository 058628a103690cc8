// CPU kernels of softmax and log-softmax over one dim, forward and backward.
//
//   x, y, dy, dx [outer, n, inner]: each of the outer * inner rows is n values spaced `inner`
//   apart (inner = 1 for the last dim, the common case, so rows are contiguous).
//   forward:   softmax(x)_j     = exp(x_j - m) / sum_k exp(x_k - m),   m = max_k x_k
//              log_softmax(x)_j = x_j - m - log sum_k exp(x_k - m)
//   backward:  softmax:     dx_j = y_j (dy_j - sum_k dy_k y_k)
//              log_softmax: dx_j = dy_j - exp(y_j) sum_k dy_k
// Rows are independent, so they are spread over the OpenMP threads; the sums along a row are
// `omp simd` reductions (partial sums in vector lanes, added at the end: a fixed order for a
// given build, so results are the same on any number of threads).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "tensor/cpu/device.h"

namespace neat::cpu {

// Offset of row r's first element in [outer, n, inner].
inline int64_t softmax_row_start(int64_t r, int64_t n, int64_t inner) {
  return (r / inner) * n * inner + r % inner;
}

template <typename T>
void softmax_forward(Cpu, const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                     bool log_output) {
  const int64_t rows = outer * inner, s = inner;
#pragma omp parallel for schedule(static) if (rows * n >= kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + softmax_row_start(r, n, inner);
    T* yr = y + softmax_row_start(r, n, inner);
    T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; ++j) m = std::max(m, xr[j * s]);
    for (int64_t j = 0; j < n; ++j) yr[j * s] = std::exp(xr[j * s] - m);
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) sum += yr[j * s];
    if (log_output) {
      const T log_sum = m + T(std::log(sum));
      for (int64_t j = 0; j < n; ++j) yr[j * s] = xr[j * s] - log_sum;
    } else {
      const T inv = T(1.0 / sum);
      for (int64_t j = 0; j < n; ++j) yr[j * s] *= inv;
    }
  }
}

template <typename T>
void softmax_backward(Cpu, const T* dy, const T* y, T* dx, int64_t outer, int64_t n,
                      int64_t inner, bool log_output) {
  const int64_t rows = outer * inner, s = inner;
#pragma omp parallel for schedule(static) if (rows * n >= kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = softmax_row_start(r, n, inner);
    double dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < n; ++j)
      dot += log_output ? double(dy[o + j * s]) : double(dy[o + j * s]) * y[o + j * s];
    const T d = T(dot);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = o + j * s;
      dx[i] = log_output ? dy[i] - std::exp(y[i]) * d : y[i] * (dy[i] - d);
    }
  }
}

}  // namespace neat::cpu
