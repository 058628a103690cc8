// CPU kernels of the reductions (tensor/reduce.cpp) over one block of consecutive dims. The
// input is seen as x [outer, R, inner] (R = the product of the reduced sizes) and the result as
// [outer, inner]:
//   sum over the last dims      -> inner = 1: one contiguous sum per output element
//   sum over the leading dims   -> outer = 1: a bias gradient, column sums of [R, inner]
//   mean over the tokens of [B, N, D] -> [B, N, D] with outer = B, R = N, inner = D
// and the squared norm for gradient clipping: x [n] -> one double.
// Sums accumulate in M = math_t<T> (float32 for bfloat16: a bf16 input is widened as read, the
// result rounded once when stored); float, double and int64 in T itself.
#pragma once
#include <algorithm>
#include <cstdint>

#include "tensor/cpu/device.h"
#include "tensor/half.h"

namespace neat::cpu {

// x[0] + ... + x[n-1] with 16 running partial sums: the fixed-width inner loop vectorises
// without reassociation flags, and the rounding error grows more slowly than with one sum.
template <typename T, typename M = math_t<T>>
M sum_contiguous(const T* x, int64_t n) {
  constexpr int64_t kLanes = 16;
  M partial[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) partial[l] += M(x[i + l]);
  M total = 0;
  for (; i < n; ++i) total += M(x[i]);
  for (int64_t l = 0; l < kLanes; ++l) total += partial[l];
  return total;
}

// out [outer, inner] = scale * (sum over r of x [outer, R, inner]), scaled before the one
// rounding (mean's 1 / count; sum's scale 1 changes nothing).
template <typename T>
void sum_kernel(Cpu, T* out, const T* x, int64_t outer, int64_t R, int64_t inner,
                math_t<T> scale) {
  using M = math_t<T>;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * R >= kParallelThreshold)
    for (int64_t o = 0; o < outer; ++o) out[o] = T(sum_contiguous(x + o * R, R) * scale);
    return;
  }
  // Each output row adds up R input rows with a vectorised sum[j] += x[j] loop into M sums,
  // one block of columns (at most kColumnBlock) at a time.
  for_column_blocks(outer, inner, outer * R * inner, [&](int64_t o, int64_t j0, int64_t j1) {
    M sum[kColumnBlock];
    for (int64_t j = 0; j < j1 - j0; ++j) sum[j] = 0;
    for (int64_t r = 0; r < R; ++r) {
      const T* src = x + (o * R + r) * inner + j0;
      for (int64_t j = 0; j < j1 - j0; ++j) sum[j] += M(src[j]);
    }
    T* dst = out + o * inner + j0;
    for (int64_t j = 0; j < j1 - j0; ++j) dst[j] = T(sum[j] * scale);
  });
}

// values / indices [outer, inner] = max / first argmax over r of x [outer, R], R >= 1.
// A NaN wins over numbers (like torch.max), the first NaN over later ones.
template <typename T>
void max_kernel(Cpu, T* values, int64_t* indices, const T* x, int64_t outer, int64_t R, int64_t inner) {
  using M = math_t<T>;  // compared widened; the maximum is stored as it was
#pragma omp parallel for schedule(static) if (outer * R * inner >= kParallelThreshold)
  for (int64_t o = 0; o < outer; ++o) {
    T* best = values + o * inner;
    int64_t* where = indices + o * inner;
    const T* rows = x + o * R * inner;
    for (int64_t j = 0; j < inner; ++j) {
      best[j] = rows[j];
      where[j] = 0;
    }
    for (int64_t r = 1; r < R; ++r) {
      const T* row = rows + r * inner;
      for (int64_t j = 0; j < inner; ++j) {
        const M v = M(row[j]), b = M(best[j]);
        if (v > b || (v != v && b == b)) {
          best[j] = row[j];
          where[j] = r;
        }
      }
    }
  }
}

// dx [outer, R, inner] = 0 except dx[o, indices[o, j], j] = grad [o, j].
template <typename T>
void max_backward_kernel(Cpu, T* dx, const T* grad, const int64_t* indices, int64_t outer, int64_t R,
                         int64_t inner) {
  std::fill(dx, dx + outer * R * inner, T(0));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j)
      dx[(o * R + indices[o * inner + j]) * inner + j] = grad[o * inner + j];
}

// *total += x[0]^2 + ... + x[n-1]^2, accumulated in double (the threads' partial sums are
// combined in an order fixed for a given thread count).
template <typename T>
void add_sum_of_squares(Cpu, const T* x, int64_t n, double* total) {
  double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) sum += double(math_t<T>(x[i])) * double(math_t<T>(x[i]));
  *total += sum;
}

}  // namespace neat::cpu
