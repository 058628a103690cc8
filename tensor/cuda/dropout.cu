// CUDA kernel of the dropout mask (tensor/cuda/dropout.h), inverted dropout as
// tensor/cpu/dropout.h: element i is 0 with probability p, else keep = 1 / (1 - p):
//   mask_i = u_i < p ? 0 : keep,   u_i = uniform_from_bits(splitmix64_draw(state, i))
// splitmix64_draw and uniform_from_bits (tensor/random.h) are integer operations and one exact
// scaling, and keep is computed on the host as on the CPU, so the mask equals the CPU's bit for
// bit for the same generator state. One thread per element, grid-stride.
#include "tensor/cuda/dropout.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/half.h"
#include "tensor/random.h"

namespace neat::cuda {

namespace {

template <typename T>
__global__ void dropout_mask_kernel(T* mask, int64_t n, double p, T keep, uint64_t state) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    mask[i] = uniform_from_bits(splitmix64_draw(state, uint64_t(i))) < p ? T(0.0f) : keep;
}

}  // namespace

template <typename T>
void dropout_mask(Cuda, T* mask, int64_t n, double p, uint64_t state) {
  if (n == 0) return;
  const T keep = convert_value<T>(p < 1 ? 1.0 / (1.0 - p) : 0.0);
  dropout_mask_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(mask, n, p, keep, state);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void dropout_mask(Cuda, float*, int64_t, double, uint64_t);
template void dropout_mask(Cuda, double*, int64_t, double, uint64_t);
template void dropout_mask(Cuda, bfloat16*, int64_t, double, uint64_t);

}  // namespace neat::cuda
