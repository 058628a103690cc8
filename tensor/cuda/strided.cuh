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
// strided_copy is the copy through a one-operand layout that expand and permute launch:
//   out [shape] (contiguous) = x at offset(i)
// It takes, cheapest first:
//   - 16-byte units (uint4: 4 floats, 2 doubles, 8 bfloat16) when x's last dim is contiguous,
//     its length and every other stride are whole units and both pointers are 16-byte aligned:
//     the same layout with the last dim counted in units, so each thread moves 16 bytes;
//   - broadcast_dim, when the layout is x contiguous with ONE broadcast dim (stride 0):
//     out [outer, count, inner] = x [outer, inner] repeated count times (a bias row repeated
//     over the rows, x [B, 1, D] expanded to [B, N, D]): two integer divisions per element,
//     whatever the rank was;
//   - else strided_gather, the general walk over the dims.
// Each indexes in 32 bits (uint32_t) when the element count and every offset fit in 31 bits,
// which is nearly always: a 64-bit `%` and `/` per element per dim is several times the cost of
// a 32-bit one.
#pragma once
#include <cstdint>

#include "tensor/check.h"
#include "tensor/cuda/runtime.cuh"

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

// The number of output elements of a layout.
template <int K>
int64_t layout_numel(const Strided<K>& l) {
  int64_t n = 1;
  for (int d = 0; d < l.rank; ++d) n *= l.shape[d];
  return n;
}

// Whether n elements and every operand's largest offset fit in 31 bits, strides not negative
// (so uint32_t indices, grid stride included, never wrap).
template <int K>
bool fits_32_bits(int64_t n, const Strided<K>& l) {
  constexpr int64_t kLimit = int64_t(1) << 31;
  if (n >= kLimit) return false;
  for (int k = 0; k < K; ++k) {
    int64_t last = 0;
    for (int d = 0; d < l.rank; ++d) {
      if (l.stride[k][d] < 0) return false;
      last += (l.shape[d] - 1) * l.stride[k][d];
    }
    if (last >= kLimit) return false;
  }
  return true;
}

// offset[k] = where output element i is read in operand k; I: int64_t, or uint32_t where
// fits_32_bits.
template <int K, typename I>
__device__ inline void offsets_of(I i, const Strided<K>& l, I (&offset)[K]) {
  for (int k = 0; k < K; ++k) offset[k] = 0;
  for (int d = l.rank - 1; d >= 0; --d) {
    const I size = I(l.shape[d]);
    const I index = i % size;
    i /= size;
    for (int k = 0; k < K; ++k) offset[k] += index * I(l.stride[k][d]);
  }
}

// out[i] = x[offset(i)], i < n: a copy through a one-operand layout.
template <typename U, typename I>
__global__ void strided_gather(U* out, const U* x, I n, Strided<1> l) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    I offset[1];
    offsets_of(i, l, offset);
    out[i] = x[offset[0]];
  }
}

// out [outer, count, inner] = x [outer, inner] repeated along the middle dim; n = all three.
template <typename U, typename I>
__global__ void broadcast_dim(U* out, const U* x, I n, I count, I inner) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    const I j = i % inner, o = i / inner / count;
    out[i] = x[o * inner + j];
  }
}

namespace strided_detail {

// When l reads x contiguously but for one dim d of stride 0 (and size > 1): true, with
// outer = the sizes before d, count = shape[d], inner = the sizes after d.
inline bool one_broadcast_dim(const Strided<1>& l, int64_t& outer, int64_t& count,
                              int64_t& inner) {
  int d0 = -1;
  int64_t step = 1;   // the contiguous stride x's dim d has, skipping the broadcast dim
  for (int d = l.rank - 1; d >= 0; --d) {
    if (l.stride[0][d] == 0 && l.shape[d] > 1) {
      if (d0 >= 0) return false;
      d0 = d;
      continue;
    }
    if (l.shape[d] != 1 && l.stride[0][d] != step) return false;
    step *= l.shape[d];
  }
  if (d0 < 0) return false;
  outer = count = inner = 1;
  for (int d = 0; d < l.rank; ++d) (d < d0 ? outer : d == d0 ? count : inner) *= l.shape[d];
  return true;
}

template <typename U, typename I>
void copy_units(U* out, const U* x, int64_t n, const Strided<1>& l) {
  int64_t outer, count, inner;
  if (one_broadcast_dim(l, outer, count, inner))
    broadcast_dim<U, I><<<blocks_for(n), kThreads, 0, stream()>>>(out, x, I(n), I(count), I(inner));
  else
    strided_gather<U, I><<<blocks_for(n), kThreads, 0, stream()>>>(out, x, I(n), l);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename U>
void copy_units(U* out, const U* x, const Strided<1>& l) {
  const int64_t n = layout_numel(l);
  if (n == 0) return;
  if (fits_32_bits(n, l)) return copy_units<U, uint32_t>(out, x, n, l);
  copy_units<U, int64_t>(out, x, n, l);
}

// l with its last dim (contiguous in x) counted in 16-byte units of `bytes`-byte elements,
// when every stride and that dim's length are whole units; false otherwise.
inline bool in_16_byte_units(Strided<1>& l, int64_t bytes) {
  const int last = l.rank - 1;
  if (l.stride[0][last] != 1 || l.shape[last] * bytes % 16 != 0) return false;
  for (int d = 0; d < last; ++d)
    if (l.stride[0][d] * bytes % 16 != 0) return false;
  l.shape[last] = l.shape[last] * bytes / 16;
  for (int d = 0; d < last; ++d) l.stride[0][d] = l.stride[0][d] * bytes / 16;
  return true;
}

}  // namespace strided_detail

// out (contiguous, l's shape) = x read through l; see the head comment for the kernels.
template <typename T>
void strided_copy(T* out, const T* x, Strided<1> l) {
  const bool aligned = reinterpret_cast<uintptr_t>(out) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(x) % 16 == 0;
  if (aligned && strided_detail::in_16_byte_units(l, int64_t(sizeof(T))))
    return strided_detail::copy_units(reinterpret_cast<uint4*>(out),
                                      reinterpret_cast<const uint4*>(x), l);
  strided_detail::copy_units(out, x, l);
}

}  // namespace neat::cuda
