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
//
// The exps take x_j - m <= 0, so they use exp_nonpositive (tensor/scalar_math.h): exp_poly's
// bits wherever e^(x_j - m) is a normal float, 0 where exp_poly gives a subnormal (a weight
// below 1.2e-38, which changes no sum), in ~3/4 of its time. A row with a NaN, or whose max
// is not finite (+inf, or -inf for a row that is all -inf), takes the exact exp instead, so
// its NaNs come out as they should.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tensor/cpu/device.h"
#include "tensor/half.h"
#include "tensor/scalar_math.h"

namespace neat::cpu {

// Offset of row r's first element in [outer, n, inner].
inline int64_t softmax_row_start(int64_t r, int64_t n, int64_t inner) {
  return (r / inner) * n * inner + r % inner;
}

// The max m of a row (n values s apart), and whether every x_j - m is <= 0 or -inf, so that
// exp_nonpositive may take them: the row has no NaN and m is finite (+inf, or -inf for a row
// that is all -inf, would make x_j - m NaN).
template <typename T>
inline T row_max(const T* x, int64_t n, int64_t s, bool* nonpositive) {
  T m = -std::numeric_limits<T>::infinity();
  int nans = 0;
  // A select, not std::max: GCC kept the std::max form scalar (vmaxss), a third of the row.
#pragma omp simd reduction(max : m) reduction(+ : nans)
  for (int64_t j = 0; j < n; ++j) {
    m = x[j * s] > m ? x[j * s] : m;
    nans += x[j * s] != x[j * s];
  }
  *nonpositive = nans == 0 && m > -std::numeric_limits<T>::infinity() &&
                 m < std::numeric_limits<T>::infinity();
  return m;
}

// One row of the forward: n values `inner` apart. Contiguous (the last dim, inner = 1) makes
// the stride a constant 1, so every loop vectorises, exp included (scalar_exp is plain
// arithmetic for float).
template <bool Contiguous, typename T>
void softmax_forward_row(const T* xr, T* yr, int64_t n, int64_t inner, bool log_output) {
  const int64_t s = Contiguous ? 1 : inner;
  bool nonpositive;
  const T m = row_max(xr, n, s, &nonpositive);
  if (nonpositive) {
    for (int64_t j = 0; j < n; ++j) yr[j * s] = scalar_exp_nonpositive(xr[j * s] - m);
  } else {
    for (int64_t j = 0; j < n; ++j) yr[j * s] = scalar_exp(xr[j * s] - m);
  }
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

// Softmax of `rows` contiguous rows of n values each, in place (one attention head's
// [Nq, Nk] scores): the same bits as softmax_forward_row on each row, with the exps in one loop
// over the whole block. Row by row, a row of a few dozen values left most of exp's long
// dependency chain exposed; over the block, several vectors' exps are in flight at once
// (measured on 65 x 65 blocks: 128 -> 100 ns a row; docs/performance.md).
template <typename T>
void softmax_forward_rows(T* s, int64_t rows, int64_t n) {
  bool nonpositive = true;   // every row's, for the block's exp loop
  for (int64_t i = 0; i < rows; ++i) {   // s - max of its row
    T* row = s + i * n;
    bool row_nonpositive;
    const T m = row_max(row, n, 1, &row_nonpositive);
    nonpositive = nonpositive && row_nonpositive;
    for (int64_t j = 0; j < n; ++j) row[j] -= m;
  }
  if (nonpositive) {
    for (int64_t e = 0; e < rows * n; ++e) s[e] = scalar_exp_nonpositive(s[e]);
  } else {
    for (int64_t e = 0; e < rows * n; ++e) s[e] = scalar_exp(s[e]);
  }
  for (int64_t i = 0; i < rows; ++i) {   // / the row's sum
    T* row = s + i * n;
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) sum += row[j];
    const T inv = T(1.0 / sum);
    for (int64_t j = 0; j < n; ++j) row[j] *= inv;
  }
}

// A row of 16-bit floats is widened into a float32 buffer of the thread's, takes the float32
// row function, and is rounded once as stored: the max, the exps and the sum in float32 (the
// sum in double, as float32's).
template <typename T, typename RowFn>
void for_each_widened_row(int64_t rows, int64_t n, int64_t inner, int inputs,
                          const T* const* in, T* out, RowFn row_fn) {
#pragma omp parallel if (rows * n >= kParallelThreshold)
  {
    std::vector<float> buf(size_t((inputs + 1) * n));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t o = softmax_row_start(r, n, inner);
      for (int a = 0; a < inputs; ++a)
        for (int64_t j = 0; j < n; ++j) buf[size_t(a * n + j)] = float(in[a][o + j * inner]);
      float* result = buf.data() + inputs * n;
      row_fn(buf.data(), result);
      for (int64_t j = 0; j < n; ++j) out[o + j * inner] = T(result[j]);
    }
  }
}

template <typename T>
void softmax_forward(Cpu, const T* x, T* y, int64_t outer, int64_t n, int64_t inner,
                     bool log_output) {
  const int64_t rows = outer * inner;
  if constexpr (is_half_type<T>) {
    const T* in[1] = {x};
    for_each_widened_row(rows, n, inner, 1, in, y, [&](const float* xr, float* yr) {
      softmax_forward_row<true>(xr, yr, n, 1, log_output);
    });
  } else {
#pragma omp parallel for schedule(static) if (rows * n >= kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t o = softmax_row_start(r, n, inner);
      if (inner == 1) softmax_forward_row<true>(x + o, y + o, n, inner, log_output);
      else softmax_forward_row<false>(x + o, y + o, n, inner, log_output);
    }
  }
}

// One row of the backward, as the forward's.
template <bool Contiguous, typename T>
void softmax_backward_row(const T* dy, const T* y, T* dx, int64_t n, int64_t inner,
                          bool log_output) {
  const int64_t s = Contiguous ? 1 : inner;
  double dot = 0;
  if (log_output) {   // the branch outside the loops: else both sides would be vectorised
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < n; ++j) dot += double(dy[j * s]);
    const T d = T(dot);
    for (int64_t j = 0; j < n; ++j) dx[j * s] = dy[j * s] - scalar_exp(y[j * s]) * d;
  } else {
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < n; ++j) dot += double(dy[j * s]) * y[j * s];
    const T d = T(dot);
    for (int64_t j = 0; j < n; ++j) dx[j * s] = y[j * s] * (dy[j * s] - d);
  }
}

template <typename T>
void softmax_backward(Cpu, const T* dy, const T* y, T* dx, int64_t outer, int64_t n,
                      int64_t inner, bool log_output) {
  const int64_t rows = outer * inner;
  if constexpr (is_half_type<T>) {
    const T* in[2] = {dy, y};
    for_each_widened_row(rows, n, inner, 2, in, dx, [&](const float* dyy, float* dxr) {
      softmax_backward_row<true>(dyy, dyy + n, dxr, n, 1, log_output);
    });
  } else {
#pragma omp parallel for schedule(static) if (rows * n >= kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t o = softmax_row_start(r, n, inner);
      if (inner == 1) softmax_backward_row<true>(dy + o, y + o, dx + o, n, inner, log_output);
      else softmax_backward_row<false>(dy + o, y + o, dx + o, n, inner, log_output);
    }
  }
}

}  // namespace neat::cpu
