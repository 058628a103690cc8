// CPU kernels of the elementwise ops (tensor/elementwise.cpp). Each loop is a template over the element type and the
// scalar function, passed as a lambda that calls tensor/scalar_math.h, so the function is
// inlined into the loop: no per-element indirect call. Contiguous loops are plain `for i` loops
// the compiler vectorises; broadcast loops walk the output one row (last dim) at a time.
// Loops over at least kParallelThreshold elements are split across OpenMP threads.
//
// Broadcast layout (made by tensor/elementwise.cpp after merging dims): the output is
// contiguous with sizes shape[0..rank); an operand is read at sum_d index_d * stride[d], with
// stride 0 along the dims it is broadcast over. The last dim's strides are 0 or 1.
#pragma once
#include <cmath>
#include <cstdint>

#include "tensor/cpu/device.h"

namespace neat::cpu {

// y[i] = f(x[i]), i < n.
template <typename Out, typename In, typename F>
void map_contiguous(Cpu, Out* y, const In* x, int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// out[i] = f(a[i], b[i]), i < n. out may be a (in-place updates).
template <typename T, typename F>
void zip_contiguous(Cpu, T* out, const T* a, const T* b, int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
}

// Offset of output row `row` (an index over all dims but the last) in an operand.
inline int64_t row_offset(int64_t row, int64_t rank, const int64_t* shape, const int64_t* stride) {
  int64_t offset = 0;
  for (int64_t d = rank - 2; d >= 0; --d) {
    offset += (row % shape[d]) * stride[d];
    row /= shape[d];
  }
  return offset;
}

// out = f(a, b) with broadcasting; out has shape[0..rank), a and b strides stride_a / stride_b.
template <typename T, typename F>
void zip_broadcast(Cpu, T* out, const T* a, const T* b, int64_t rank, const int64_t* shape,
                   const int64_t* stride_a, const int64_t* stride_b, F f) {
  const int64_t inner = shape[rank - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < rank; ++d) rows *= shape[d];
  const bool a_moves = stride_a[rank - 1] != 0, b_moves = stride_b[rank - 1] != 0;
#pragma omp parallel for schedule(static) if (rows * inner >= kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    T* o = out + r * inner;
    const T* pa = a + row_offset(r, rank, shape, stride_a);
    const T* pb = b + row_offset(r, rank, shape, stride_b);
    // One loop per case, so each inner loop is contiguous and vectorises.
    if (a_moves && b_moves) {
      for (int64_t j = 0; j < inner; ++j) o[j] = f(pa[j], pb[j]);
    } else if (a_moves) {
      const T vb = *pb;
      for (int64_t j = 0; j < inner; ++j) o[j] = f(pa[j], vb);
    } else if (b_moves) {
      const T va = *pa;
      for (int64_t j = 0; j < inner; ++j) o[j] = f(va, pb[j]);
    } else {
      const T v = f(*pa, *pb);
      for (int64_t j = 0; j < inner; ++j) o[j] = v;
    }
  }
}

// out = x repeated along the dims x is broadcast over (x read with `stride`).
template <typename T>
void expand_broadcast(Cpu, T* out, const T* x, int64_t rank, const int64_t* shape, const int64_t* stride) {
  const int64_t inner = shape[rank - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < rank; ++d) rows *= shape[d];
  const bool moves = stride[rank - 1] != 0;
#pragma omp parallel for schedule(static) if (rows * inner >= kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    T* o = out + r * inner;
    const T* p = x + row_offset(r, rank, shape, stride);
    if (moves) {
      for (int64_t j = 0; j < inner; ++j) o[j] = p[j];
    } else {
      for (int64_t j = 0; j < inner; ++j) o[j] = *p;
    }
  }
}

// *count = the number of NaN / inf elements among x[0..n).
template <typename T>
void count_nonfinite(Cpu, const T* x, int64_t n, int64_t* count) {
  int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) bad += std::isfinite(x[i]) ? 0 : 1;
  *count = bad;
}

}  // namespace neat::cpu
