// A strided read pattern passed to a kernel by value (the broadcasts and expand of
// tensor/cuda/elementwise.cu, permute in tensor/cuda/shape_ops.cu): a contiguous output of sizes
// shape[0..rank) and, per operand k < K, the element strides it is read with (0 along the dims
// it is broadcast over). Output element i is read in operand k at
//   offset_k(i) = sum_d index_d(i) stride[k][d],   index_d(i) = i's coordinate along dim d.
// The raw ops merge neighbouring dims before they get here, so a layout rarely has more than
// 2 or 3 dims; more than kMaxDims is an error naming the op.
//
//   const Strided<2> l = strided_layout<2>(rank, shape, {stride_a, stride_b}, "add");
//   ... in the kernel:  int64_t offset[2];  offsets_of(i, l, offset);
//
// strided_gather is the copy through a one-operand layout that expand and permute launch.
#pragma once
#include <cstdint>

#include "tensor/check.h"

namespace neat::cuda {

constexpr int kMaxDims = 16;

template <int K>
struct Strided {
  int rank;
  int64_t shape[kMaxDims];
  int64_t stride[K][kMaxDims];
};

template <int K>
Strided<K> strided_layout(int64_t rank, const int64_t* shape,
                          const int64_t* const (&strides)[K], const char* op) {
  NEAT_CHECK(rank >= 1 && rank <= kMaxDims, op, ": a layout of ", rank,
             " dims (after merging) is more than the CUDA kernels' ", kMaxDims);
  Strided<K> l{};
  l.rank = int(rank);
  for (int d = 0; d < l.rank; ++d) {
    l.shape[d] = shape[d];
    for (int k = 0; k < K; ++k) l.stride[k][d] = strides[k][d];
  }
  return l;
}

// offset[k] = where output element i is read in operand k.
template <int K>
__device__ inline void offsets_of(int64_t i, const Strided<K>& l, int64_t (&offset)[K]) {
  for (int k = 0; k < K; ++k) offset[k] = 0;
  for (int d = l.rank - 1; d >= 0; --d) {
    const int64_t index = i % l.shape[d];
    i /= l.shape[d];
    for (int k = 0; k < K; ++k) offset[k] += index * l.stride[k][d];
  }
}

// out[i] = x[offset(i)], i < n: a copy through a one-operand layout (expand, permute).
template <typename T>
__global__ void strided_gather(T* out, const T* x, int64_t n, Strided<1> l) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t offset[1];
    offsets_of(i, l, offset);
    out[i] = x[offset[0]];
  }
}

}  // namespace neat::cuda
