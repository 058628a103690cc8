// CUDA kernels of the elementwise ops (tensor/cuda/elementwise.h), the entry points of
// tensor/cpu/elementwise.h with the same functors (tensor/elementwise_ops.h), so the scalar
// math of tensor/scalar_math.h is the CPU's:
//   unary:      y = f(x),  dx = dy * f'(v)  (v = y or x)     binary: out = a op b
//   scalar:     y = x op s                                  axpy:   y += alpha x
//   broadcast:  out[i] = a[offset_a(i)] op b[offset_b(i)], offset_k(i) = sum_d index_d(i) stride_k[d]
//   expand:     out[i] = x[offset(i)]                       count_nonfinite: #NaN/inf of x
// Every kernel is a grid-stride loop over the output, one element a thread and step. The
// broadcast layout travels to the kernel by value (tensor/cuda/strided.cuh).
#include <cmath>

#include "tensor/cuda/elementwise.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/strided.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

template <typename T, typename F>
__global__ void map_kernel(T* y, const T* x, int64_t n, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = f(x[i]);
}

template <typename T, typename F>
__global__ void zip_kernel(T* out, const T* a, const T* b, int64_t n, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = f(a[i], b[i]);
}

template <typename T, typename F>
__global__ void zip_broadcast_kernel(T* out, const T* a, const T* b, int64_t n, Strided<2> l, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t offset[2];
    offsets_of(i, l, offset);
    out[i] = f(a[offset[0]], b[offset[1]]);
  }
}

// Each block counts its elements' NaN / inf and adds its count to *count (integer atomics: the
// total does not depend on their order).
template <typename T>
__global__ void count_nonfinite_kernel(const T* x, int64_t n, int64_t* count) {
  int64_t bad = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    bad += isfinite(x[i]) ? 0 : 1;
  bad = block_sum(bad);
  if (threadIdx.x == 0 && bad != 0)
    atomicAdd(reinterpret_cast<unsigned long long*>(count), static_cast<unsigned long long>(bad));
}

template <typename T, typename F>
void map(T* y, const T* x, int64_t n, F f) {
  if (n == 0) return;
  map_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(y, x, n, f);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T, typename F>
void zip(T* out, const T* a, const T* b, int64_t n, F f) {
  if (n == 0) return;
  zip_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(out, a, b, n, f);
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
  with_binary(op, [&](auto f) {
    zip_broadcast_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(out, a, b, n, l, f);
    NEAT_CUDA_CHECK(cudaGetLastError());
  });
}

template <typename T>
void scalar_op(Cuda, ScalarOp op, T* y, const T* x, T s, int64_t n) {
  with_scalar(op, s, [&](auto f) { map(y, x, n, f); });
}

template <typename T>
void axpy(Cuda, T* y, T alpha, const T* x, int64_t n) {
  zip(y, y, x, n, Axpy<T>{alpha});
}

template <typename T>
void expand_broadcast(Cuda, T* out, const T* x, int64_t rank, const int64_t* shape,
                      const int64_t* stride) {
  const int64_t n = numel_of(rank, shape);
  if (n == 0) return;
  const Strided<1> l = strided_layout<1>(rank, shape, {stride}, "expand");
  strided_gather<<<blocks_for(n), kThreads, 0, stream()>>>(out, x, n, l);
  NEAT_CUDA_CHECK(cudaGetLastError());
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

}  // namespace neat::cuda
