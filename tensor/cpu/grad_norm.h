// CPU kernels of the global norm and its clip (tensor/grad_norm.cpp), and the CPU reference of
// the GPU's chunked sum of squares (tensor/cuda/grad_norm.cu), step for step.
//   x[count]: tensors of n[k] elements;  total: one double;  norm: one double
//   add_squared_norms:  *total += sum_k sum_i x[k][i]^2
//   scale_to_norm:      x[k][i] *= coef, coef = max_norm / (*norm + 1e-6), when coef < 1
//
// The CPU sums each tensor in double over the threads (add_sum_of_squares, tensor/cpu/reduce.h),
// tensor after tensor: the figures the CPU training runs were made with.
//
// chunked_squared_norm computes what the GPU's kernels do, in the same order: each chunk of
// kMultiTensorChunk elements (tensor/multi_tensor.h) is summed by kMultiTensorThreads threads,
// thread t taking elements t, t + 256, ... with fused multiply-adds in M = math_t<T> (float for
// float32 and bfloat16, double for float64), then the threads' sums meet in the warp-shuffle
// tree of block_sum (tensor/cuda/warp_reduce.cuh: butterflies within each warp of 32, then the
// same over the warps' sums); each chunk's sum is widened to a double partial; one block adds
// the partials (thread t: partials t, t + 256, ... in order, then the same tree, in double).
// The float rounding inside a chunk stays within a few ulps of the chunk's sum (16 terms a
// thread, then a tree of 8 levels); across chunks the sum is in double.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensor/cpu/device.h"
#include "tensor/cpu/elementwise.h"
#include "tensor/cpu/reduce.h"
#include "tensor/half.h"
#include "tensor/multi_tensor.h"

namespace neat::cpu {

template <typename T>
void add_squared_norms(Cpu, const T* const* x, const int64_t* n, int64_t count, double* total) {
  for (int64_t k = 0; k < count; ++k) add_sum_of_squares(Cpu{}, x[k], n[k], total);
}

template <typename T>
void scale_to_norm(Cpu, T* const* x, const int64_t* n, int64_t count, const double* norm,
                   double max_norm) {
  const double coef = max_norm / (*norm + 1e-6);
  if (!(coef < 1.0)) return;
  for (int64_t k = 0; k < count; ++k) scalar_op(Cpu{}, ScalarOp::Mul, x[k], x[k], math_t<T>(coef), n[k]);
}

// block_sum's order (tensor/cuda/warp_reduce.cuh) over values[kMultiTensorThreads]: in each
// warp, lane i adds lane i ^ offset's value for offset 16, 8, 4, 2, 1; then the warps' sums
// (the rest of the 32 lanes holding 0) the same way.
template <typename M>
M warp_sum_reference(const M* lanes) {
  M v[32], next[32];
  for (int i = 0; i < 32; ++i) v[i] = lanes[i];
  for (int offset = 16; offset > 0; offset /= 2) {
    for (int i = 0; i < 32; ++i) next[i] = v[i] + v[i ^ offset];
    for (int i = 0; i < 32; ++i) v[i] = next[i];
  }
  return v[0];
}

template <typename M>
M block_sum_reference(const M* values) {
  M per_warp[32] = {};
  for (int w = 0; w < kMultiTensorThreads / 32; ++w) per_warp[w] = warp_sum_reference(values + 32 * w);
  return warp_sum_reference(per_warp);
}

// The GPU's sum of squares of the tensors, bit for bit (see the top of this file).
template <typename T>
double chunked_squared_norm(const T* const* x, const int64_t* n, int64_t count) {
  using M = math_t<T>;
  std::vector<double> partials;
  for (int64_t k = 0; k < count; ++k) {
    for (int64_t begin = 0; begin < n[k]; begin += kMultiTensorChunk) {
      const int64_t end = std::min(begin + kMultiTensorChunk, n[k]);
      M thread_sum[kMultiTensorThreads] = {};
      for (int t = 0; t < kMultiTensorThreads; ++t)
        for (int64_t i = begin + t; i < end; i += kMultiTensorThreads)
          thread_sum[t] = square_add(thread_sum[t], M(x[k][i]));
      partials.push_back(double(block_sum_reference(thread_sum)));
    }
  }
  double thread_sum[kMultiTensorThreads] = {};
  for (int t = 0; t < kMultiTensorThreads; ++t)
    for (size_t i = size_t(t); i < partials.size(); i += kMultiTensorThreads) thread_sum[t] += partials[i];
  return block_sum_reference(thread_sum);
}

}  // namespace neat::cpu
