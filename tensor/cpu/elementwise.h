// CPU kernels of the elementwise ops (tensor/elementwise.cpp). The entry points take the op as
// a value (tensor/elementwise_ops.h) and turn it into a functor type, so each loop below is a
// template over the element type and the functor, and the scalar function
// (tensor/scalar_math.h) is inlined into the loop: no per-element indirect call. Contiguous
// loops are plain `for i` loops the compiler vectorises; broadcast loops walk the output one row
// (last dim) at a time. Loops over at least kParallelThreshold elements are split across OpenMP
// threads. The same entry points on the GPU: tensor/cuda/elementwise.cu.
//
// Every loop computes in M = math_t<T> (tensor/half.h): a bfloat16 element is widened to
// float32, the functor runs in float32 and the result is rounded to bf16 once, when stored;
// float and double compute in T itself (M(x) and T(y) are then no-ops: the same bits as before).
//
//   unary_forward:     y [n] = f(x)                  unary_backward: dx [n] = dy * f'(v)
//   binary_contiguous: out [n] = a op b              binary_broadcast: the same, broadcast
//   scalar_op:         y [n] = x op s                axpy: y [n] += alpha x
//   expand_broadcast:  out = x repeated              count_nonfinite: *count = #NaN/inf of x [n]
//
// Broadcast layout (made by tensor/elementwise.cpp after merging dims): the output is
// contiguous with sizes shape[0..rank); an operand is read at sum_d index_d * stride[d], with
// stride 0 along the dims it is broadcast over. The last dim's strides are 0 or 1.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensor/cpu/device.h"
#include "tensor/elementwise_ops.h"
#include "tensor/half.h"

namespace neat::cpu {

// y[i] = f(x[i]), i < n.
template <typename T, typename F>
void map_contiguous(T* y, const T* x, int64_t n, F f) {
  using M = math_t<T>;
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) y[i] = T(f(M(x[i])));
}

// out[i] = f(a[i], b[i]), i < n. out may be a (in-place updates).
template <typename T, typename F>
void zip_contiguous(T* out, const T* a, const T* b, int64_t n, F f) {
  using M = math_t<T>;
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) out[i] = T(f(M(a[i]), M(b[i])));
}

// The rows of an output of sizes shape[0..rank) (a row: an index over every dim but the last),
// walked in order, with each row's offset in an operand of strides `stride`. The first row's
// index comes from divisions; every next one is counted up, digit by digit (a permute of
// 16-value rows, a ViT's patch embedding, spent most of its time dividing for every row).
class RowCursor {
 public:
  RowCursor(int64_t row, int64_t rank, const int64_t* shape, const int64_t* stride)
      : rank_(rank), shape_(shape), stride_(stride), index_(size_t(rank > 1 ? rank - 1 : 0)) {
    for (int64_t d = rank - 2; d >= 0; --d) {
      index_[size_t(d)] = row % shape[d];
      offset_ += index_[size_t(d)] * stride[d];
      row /= shape[d];
    }
  }
  int64_t offset() const { return offset_; }
  void next() {  // to the following row
    for (int64_t d = rank_ - 2; d >= 0; --d) {
      offset_ += stride_[d];
      if (++index_[size_t(d)] < shape_[d]) return;
      offset_ -= index_[size_t(d)] * stride_[d];
      index_[size_t(d)] = 0;
    }
  }

 private:
  int64_t rank_;
  const int64_t *shape_, *stride_;
  std::vector<int64_t> index_;
  int64_t offset_ = 0;
};

// fn(begin, end) for blocks covering the rows [0, rows) of an output of sizes shape[0..rank),
// spread over the threads when it is large: one RowCursor per block. Blocks of up to 256 rows,
// and at least 8 blocks where there are 8 rows (a few long rows still go to every thread).
template <typename Fn>
void for_row_blocks(int64_t rank, const int64_t* shape, Fn fn) {
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < rank; ++d) rows *= shape[d];
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(256, rows / 8));
#pragma omp parallel for schedule(static) if (rows * shape[rank - 1] >= kParallelThreshold)
  for (int64_t begin = 0; begin < rows; begin += block) fn(begin, std::min(rows, begin + block));
}

// out = f(a, b) with broadcasting; out has shape[0..rank), a and b strides stride_a / stride_b.
template <typename T, typename F>
void zip_broadcast(T* out, const T* a, const T* b, int64_t rank, const int64_t* shape,
                   const int64_t* stride_a, const int64_t* stride_b, F f) {
  using M = math_t<T>;
  const int64_t inner = shape[rank - 1];
  const bool a_moves = stride_a[rank - 1] != 0, b_moves = stride_b[rank - 1] != 0;
  for_row_blocks(rank, shape, [&](int64_t begin, int64_t end) {
    RowCursor at_a(begin, rank, shape, stride_a), at_b(begin, rank, shape, stride_b);
    for (int64_t r = begin; r < end; ++r, at_a.next(), at_b.next()) {
      T* o = out + r * inner;
      const T* pa = a + at_a.offset();
      const T* pb = b + at_b.offset();
      // One loop per case, so each inner loop is contiguous and vectorises.
      if (a_moves && b_moves) {
        for (int64_t j = 0; j < inner; ++j) o[j] = T(f(M(pa[j]), M(pb[j])));
      } else if (a_moves) {
        const M vb = M(*pb);
        for (int64_t j = 0; j < inner; ++j) o[j] = T(f(M(pa[j]), vb));
      } else if (b_moves) {
        const M va = M(*pa);
        for (int64_t j = 0; j < inner; ++j) o[j] = T(f(va, M(pb[j])));
      } else {
        const T v = T(f(M(*pa), M(*pb)));
        for (int64_t j = 0; j < inner; ++j) o[j] = v;
      }
    }
  });
}

// ---- entry points (tensor/elementwise.cpp calls these; the same in tensor/cuda/elementwise.h)

template <typename T>
void unary_forward(Cpu, UnaryOp op, T* y, const T* x, int64_t n) {
  with_unary_forward(op, [&](auto f) { map_contiguous(y, x, n, f); });
}

// v is y or x, as unary_derivative_uses_output(op) says.
template <typename T>
void unary_backward(Cpu, UnaryOp op, T* dx, const T* dy, const T* v, int64_t n) {
  with_unary_backward(op, [&](auto f) { zip_contiguous(dx, dy, v, n, f); });
}

// out may be a (in-place updates).
template <typename T>
void binary_contiguous(Cpu, BinaryOp op, T* out, const T* a, const T* b, int64_t n) {
  with_binary(op, [&](auto f) { zip_contiguous(out, a, b, n, f); });
}

template <typename T>
void binary_broadcast(Cpu, BinaryOp op, T* out, const T* a, const T* b, int64_t rank,
                      const int64_t* shape, const int64_t* stride_a, const int64_t* stride_b) {
  with_binary(op, [&](auto f) { zip_broadcast(out, a, b, rank, shape, stride_a, stride_b, f); });
}

// y may be x (in place). s is not rounded to T: a bf16 x is scaled by the float32 s.
template <typename T>
void scalar_op(Cpu, ScalarOp op, T* y, const T* x, math_t<T> s, int64_t n) {
  with_scalar(op, s, [&](auto f) { map_contiguous(y, x, n, f); });
}

template <typename T>
void axpy(Cpu, T* y, math_t<T> alpha, const T* x, int64_t n) {
  zip_contiguous(y, y, x, n, Axpy<math_t<T>>{alpha});
}

// out = x repeated along the dims x is broadcast over (x read with `stride`).
template <typename T>
void expand_broadcast(Cpu, T* out, const T* x, int64_t rank, const int64_t* shape, const int64_t* stride) {
  const int64_t inner = shape[rank - 1];
  const bool moves = stride[rank - 1] != 0;
  for_row_blocks(rank, shape, [&](int64_t begin, int64_t end) {
    RowCursor at(begin, rank, shape, stride);
    for (int64_t r = begin; r < end; ++r, at.next()) {
      T* o = out + r * inner;
      const T* p = x + at.offset();
      if (moves) {
        for (int64_t j = 0; j < inner; ++j) o[j] = p[j];
      } else {
        for (int64_t j = 0; j < inner; ++j) o[j] = *p;
      }
    }
  });
}

// *count = the number of NaN / inf elements among x[0..n).
template <typename T>
void count_nonfinite(Cpu, const T* x, int64_t n, int64_t* count) {
  int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) bad += std::isfinite(math_t<T>(x[i])) ? 0 : 1;
  *count = bad;
}

}  // namespace neat::cpu
