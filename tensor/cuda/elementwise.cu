// CUDA kernels of the elementwise ops (tensor/cuda/elementwise.h), the entry points of
// tensor/cpu/elementwise.h with the same functors (tensor/elementwise_ops.h), so the scalar
// math of tensor/scalar_math.h is the CPU's:
//   unary:      y = f(x),  dx = dy * f'(v)  (v = y or x)     binary: out = a op b
//   scalar:     y = x op s                                  axpy:   y += alpha x
//   broadcast:  out[i] = a[offset_a(i)] op b[offset_b(i)], offset_k(i) = sum_d index_d(i) stride_k[d]
//   expand:     out[i] = x[offset(i)]                       count_nonfinite: #NaN/inf of x
// Every kernel is a grid-stride loop over the output, one element a thread and step, except the
// contiguous maps and zips, which move a 16-byte pack a thread and step (8 bfloat16, 4 float: one
// vectorised load per operand), and expand, strided_copy's kernels (16-byte units, a one-dim
// broadcast kernel; tensor/cuda/strided.cuh). Broadcasts index in 32 bits where they fit. The math runs in math_t<T>: a bfloat16 is widened to float32,
// computed and rounded once when stored. The broadcast layout travels to the kernel by value
// (tensor/cuda/strided.cuh).
#include <cmath>
#include <cstdint>

#include "tensor/cuda/elementwise.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/strided.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

// 16 bytes of T, what one vectorised load or store moves: 8 bfloat16, 4 float, 2 double or int64.
template <typename T>
struct alignas(16) Pack {
  static constexpr int kSize = int(16 / sizeof(T));
  T v[kSize];
};

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename T, typename F>
__global__ void map_kernel(T* y, const T* x, int64_t n, F f) {
  using M = math_t<T>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = T(f(M(x[i])));
}

// map_kernel a pack (16 bytes) a thread and step.
template <typename T, typename F>
__global__ void map_packed_kernel(Pack<T>* y, const Pack<T>* x, int64_t packs, F f) {
  using M = math_t<T>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < packs; i += int64_t(gridDim.x) * blockDim.x) {
    const Pack<T> in = x[i];
    Pack<T> out;
#pragma unroll
    for (int k = 0; k < Pack<T>::kSize; ++k) out.v[k] = T(f(M(in.v[k])));
    y[i] = out;
  }
}

template <typename T, typename F>
__global__ void zip_kernel(T* out, const T* a, const T* b, int64_t n, F f) {
  using M = math_t<T>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = T(f(M(a[i]), M(b[i])));
}

// zip_kernel a pack a thread and step; out may be a (each thread reads its pack, then writes it).
template <typename T, typename F>
__global__ void zip_packed_kernel(Pack<T>* out, const Pack<T>* a, const Pack<T>* b, int64_t packs,
                                  F f) {
  using M = math_t<T>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < packs; i += int64_t(gridDim.x) * blockDim.x) {
    const Pack<T> pa = a[i], pb = b[i];
    Pack<T> o;
#pragma unroll
    for (int k = 0; k < Pack<T>::kSize; ++k) o.v[k] = T(f(M(pa.v[k]), M(pb.v[k])));
    out[i] = o;
  }
}

// I: uint32_t where the layout fits_32_bits, else int64_t (tensor/cuda/strided.cuh).
template <typename T, typename I, typename F>
__global__ void zip_broadcast_kernel(T* out, const T* a, const T* b, I n, Strided<2> l, F f) {
  using M = math_t<T>;
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    I offset[2];
    offsets_of(i, l, offset);
    out[i] = T(f(M(a[offset[0]]), M(b[offset[1]])));
  }
}

// Each block counts its elements' NaN / inf and adds its count to *count (integer atomics: the
// total does not depend on their order).
template <typename T>
__global__ void count_nonfinite_kernel(const T* x, int64_t n, int64_t* count) {
  int64_t bad = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    bad += isfinite(math_t<T>(x[i])) ? 0 : 1;
  bad = block_sum(bad);
  if (threadIdx.x == 0 && bad != 0)
    atomicAdd(reinterpret_cast<unsigned long long*>(count), static_cast<unsigned long long>(bad));
}

// The contiguous launches: whole packs when every pointer is 16-byte aligned (the allocator's
// blocks are), then the last n % kSize elements (or all of them, unaligned) one at a time.
template <typename T, typename F>
void map(T* y, const T* x, int64_t n, F f) {
  constexpr int64_t kSize = Pack<T>::kSize;
  const int64_t packs = aligned16(y) && aligned16(x) ? n / kSize : 0, done = packs * kSize;
  if (packs > 0) {
    map_packed_kernel<<<blocks_for(packs), kThreads, 0, stream()>>>(
        reinterpret_cast<Pack<T>*>(y), reinterpret_cast<const Pack<T>*>(x), packs, f);
    NEAT_CUDA_CHECK(cudaGetLastError());
  }
  if (done == n) return;
  map_kernel<<<blocks_for(n - done), kThreads, 0, stream()>>>(y + done, x + done, n - done, f);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T, typename F>
void zip(T* out, const T* a, const T* b, int64_t n, F f) {
  constexpr int64_t kSize = Pack<T>::kSize;
  const bool aligned = aligned16(out) && aligned16(a) && aligned16(b);
  const int64_t packs = aligned ? n / kSize : 0, done = packs * kSize;
  if (packs > 0) {
    zip_packed_kernel<<<blocks_for(packs), kThreads, 0, stream()>>>(
        reinterpret_cast<Pack<T>*>(out), reinterpret_cast<const Pack<T>*>(a),
        reinterpret_cast<const Pack<T>*>(b), packs, f);
    NEAT_CUDA_CHECK(cudaGetLastError());
  }
  if (done == n) return;
  zip_kernel<<<blocks_for(n - done), kThreads, 0, stream()>>>(out + done, a + done, b + done,
                                                              n - done, f);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

int64_t numel_of(int64_t rank, const int64_t* shape) {
  int64_t n = 1;
  for (int64_t d = 0; d < rank; ++d) n *= shape[d];
  return n;
}

}  // namespace

template <typename T>
void unary_forward(Cuda, UnaryOp op, T* y, const T* x, int64_t n) {
  with_unary_forward(op, [&](auto f) { map(y, x, n, f); });
}

template <typename T>
void unary_backward(Cuda, UnaryOp op, T* dx, const T* dy, const T* v, int64_t n) {
  with_unary_backward(op, [&](auto f) { zip(dx, dy, v, n, f); });
}

template <typename T>
void binary_contiguous(Cuda, BinaryOp op, T* out, const T* a, const T* b, int64_t n) {
  with_binary(op, [&](auto f) { zip(out, a, b, n, f); });
}

template <typename T>
void binary_broadcast(Cuda, BinaryOp op, T* out, const T* a, const T* b, int64_t rank,
                      const int64_t* shape, const int64_t* stride_a, const int64_t* stride_b) {
  const int64_t n = numel_of(rank, shape);
  if (n == 0) return;
  const Strided<2> l = strided_layout<2>(rank, shape, {stride_a, stride_b}, "binary_broadcast");
  const bool narrow = fits_32_bits(n, l);
  with_binary(op, [&](auto f) {
    if (narrow)
      zip_broadcast_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(out, a, b, uint32_t(n), l, f);
    else
      zip_broadcast_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(out, a, b, n, l, f);
    NEAT_CUDA_CHECK(cudaGetLastError());
  });
}

template <typename T>
void scalar_op(Cuda, ScalarOp op, T* y, const T* x, math_t<T> s, int64_t n) {
  with_scalar(op, s, [&](auto f) { map(y, x, n, f); });
}

template <typename T>
void axpy(Cuda, T* y, math_t<T> alpha, const T* x, int64_t n) {
  zip(y, y, x, n, Axpy<math_t<T>>{alpha});
}

template <typename T>
void expand_broadcast(Cuda, T* out, const T* x, int64_t rank, const int64_t* shape,
                      const int64_t* stride) {
  strided_copy(out, x, strided_layout<1>(rank, shape, {stride}, "expand"));
}

template <typename T>
void count_nonfinite(Cuda, const T* x, int64_t n, int64_t* count) {
  NEAT_CUDA_CHECK(cudaMemsetAsync(count, 0, sizeof(int64_t), stream()));
  if (n == 0) return;
  count_nonfinite_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(x, n, count);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void unary_forward(Cuda, UnaryOp, float*, const float*, int64_t);
template void unary_forward(Cuda, UnaryOp, double*, const double*, int64_t);
template void unary_backward(Cuda, UnaryOp, float*, const float*, const float*, int64_t);
template void unary_backward(Cuda, UnaryOp, double*, const double*, const double*, int64_t);
template void binary_contiguous(Cuda, BinaryOp, float*, const float*, const float*, int64_t);
template void binary_contiguous(Cuda, BinaryOp, double*, const double*, const double*, int64_t);
template void binary_contiguous(Cuda, BinaryOp, int64_t*, const int64_t*, const int64_t*, int64_t);
template void binary_broadcast(Cuda, BinaryOp, float*, const float*, const float*, int64_t,
                               const int64_t*, const int64_t*, const int64_t*);
template void binary_broadcast(Cuda, BinaryOp, double*, const double*, const double*, int64_t,
                               const int64_t*, const int64_t*, const int64_t*);
template void binary_broadcast(Cuda, BinaryOp, int64_t*, const int64_t*, const int64_t*, int64_t,
                               const int64_t*, const int64_t*, const int64_t*);
template void scalar_op(Cuda, ScalarOp, float*, const float*, float, int64_t);
template void scalar_op(Cuda, ScalarOp, double*, const double*, double, int64_t);
template void axpy(Cuda, float*, float, const float*, int64_t);
template void axpy(Cuda, double*, double, const double*, int64_t);
template void expand_broadcast(Cuda, float*, const float*, int64_t, const int64_t*, const int64_t*);
template void expand_broadcast(Cuda, double*, const double*, int64_t, const int64_t*, const int64_t*);
template void expand_broadcast(Cuda, int64_t*, const int64_t*, int64_t, const int64_t*, const int64_t*);
template void count_nonfinite(Cuda, const float*, int64_t, int64_t*);
template void count_nonfinite(Cuda, const double*, int64_t, int64_t*);

template void unary_forward(Cuda, UnaryOp, bfloat16*, const bfloat16*, int64_t);
template void unary_backward(Cuda, UnaryOp, bfloat16*, const bfloat16*, const bfloat16*, int64_t);
template void binary_contiguous(Cuda, BinaryOp, bfloat16*, const bfloat16*, const bfloat16*, int64_t);
template void binary_broadcast(Cuda, BinaryOp, bfloat16*, const bfloat16*, const bfloat16*, int64_t,
                               const int64_t*, const int64_t*, const int64_t*);
template void scalar_op(Cuda, ScalarOp, bfloat16*, const bfloat16*, float, int64_t);
template void axpy(Cuda, bfloat16*, float, const bfloat16*, int64_t);
template void expand_broadcast(Cuda, bfloat16*, const bfloat16*, int64_t, const int64_t*, const int64_t*);
template void count_nonfinite(Cuda, const bfloat16*, int64_t, int64_t*);

}  // namespace neat::cuda
