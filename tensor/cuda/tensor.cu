// CUDA kernels of the Tensor class: fill and converting copy (tensor/cuda/tensor.h). The memory
// itself comes from tensor/cuda/allocator.cu.
#include <type_traits>

#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/tensor.h"

namespace neat::cuda {

namespace {

template <typename T>
__global__ void fill_kernel(T* x, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] = value;
}

template <typename Dst, typename Src>
__global__ void convert_kernel(Dst* dst, const Src* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = convert_value<Dst>(src[i]);
}

}  // namespace

template <typename T>
void fill(Cuda, T* x, int64_t n, T value) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(x, n, value);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename Dst, typename Src>
void copy_convert(Cuda, Dst* dst, const Src* src, int64_t n) {
  if (n == 0) return;
  if constexpr (std::is_same_v<Dst, Src>) {
    NEAT_CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(n) * sizeof(Dst), cudaMemcpyDeviceToDevice, stream()));
  } else {
    convert_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(dst, src, n);
    NEAT_CUDA_CHECK(cudaGetLastError());
  }
}

template void fill(Cuda, float*, int64_t, float);
template void fill(Cuda, double*, int64_t, double);
template void fill(Cuda, int64_t*, int64_t, int64_t);
template void fill(Cuda, bfloat16*, int64_t, bfloat16);
template void fill(Cuda, float16*, int64_t, float16);
template void copy_convert(Cuda, float*, const float*, int64_t);
template void copy_convert(Cuda, float*, const double*, int64_t);
template void copy_convert(Cuda, float*, const int64_t*, int64_t);
template void copy_convert(Cuda, float*, const bfloat16*, int64_t);
template void copy_convert(Cuda, float*, const float16*, int64_t);
template void copy_convert(Cuda, double*, const float*, int64_t);
template void copy_convert(Cuda, double*, const double*, int64_t);
template void copy_convert(Cuda, double*, const int64_t*, int64_t);
template void copy_convert(Cuda, double*, const bfloat16*, int64_t);
template void copy_convert(Cuda, double*, const float16*, int64_t);
template void copy_convert(Cuda, int64_t*, const float*, int64_t);
template void copy_convert(Cuda, int64_t*, const double*, int64_t);
template void copy_convert(Cuda, int64_t*, const int64_t*, int64_t);
template void copy_convert(Cuda, int64_t*, const bfloat16*, int64_t);
template void copy_convert(Cuda, int64_t*, const float16*, int64_t);
template void copy_convert(Cuda, bfloat16*, const float*, int64_t);
template void copy_convert(Cuda, bfloat16*, const double*, int64_t);
template void copy_convert(Cuda, bfloat16*, const int64_t*, int64_t);
template void copy_convert(Cuda, bfloat16*, const bfloat16*, int64_t);
template void copy_convert(Cuda, bfloat16*, const float16*, int64_t);
template void copy_convert(Cuda, float16*, const float*, int64_t);
template void copy_convert(Cuda, float16*, const double*, int64_t);
template void copy_convert(Cuda, float16*, const int64_t*, int64_t);
template void copy_convert(Cuda, float16*, const bfloat16*, int64_t);
template void copy_convert(Cuda, float16*, const float16*, int64_t);

}  // namespace neat::cuda
