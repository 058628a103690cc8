// CUDA kernel of one AdamW step over many parameters (tensor/cuda/adamw.h): one launch updates
// every element of up to kTensorsPerLaunch parameters (PyTorch's multi_tensor_apply, llm.c's
// adamw.cuh), so a step over a model's ~200 tensors is a handful of launches, not ~200.
//   each parameter: p, g, m, v [n];  per element (tensor/adamw_update.h):
//   p <- p decay;  m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
//   p <- p - step_size m / (sqrt(v) / bias_correction2_sqrt + eps)
//
// The parameters' pointers, sizes and scalars travel in the launch's argument (a struct within
// the classic 4 KiB kernel-parameter limit), not in device memory, so a step copies nothing to
// the GPU first. Each parameter is cut into chunks of kChunk elements, one block a chunk; a
// block finds its parameter from the running block counts first_block[]. Every element is
// updated by one thread, so the result does not depend on the launch shape.
#include "tensor/cuda/adamw.h"
#include "tensor/cuda/runtime.cuh"

namespace neat::cuda {

namespace {

constexpr int kTensorsPerLaunch = 32;
constexpr int64_t kChunk = 16 * kThreads;   // elements per block

template <typename T>
struct Launch {
  AdamWTensor<T> tensors[kTensorsPerLaunch];
  // Parameter k's chunks are blocks [first_block[k], first_block[k + 1]).
  int64_t first_block[kTensorsPerLaunch + 1];
  int count;
};
static_assert(sizeof(Launch<double>) <= 4096, "an AdamW launch's argument must fit in 4 KiB");

// __grid_constant__: the argument is read in place (indexing it by k copies nothing).
template <typename T>
__global__ void adamw_kernel(const __grid_constant__ Launch<T> launch) {
  int k = 0;
  while (blockIdx.x >= launch.first_block[k + 1]) ++k;
  const AdamWTensor<T>& t = launch.tensors[k];
  const int64_t begin = (blockIdx.x - launch.first_block[k]) * kChunk;
  const int64_t end = begin + kChunk < t.n ? begin + kChunk : t.n;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
    adamw_update(t.param[i], t.grad[i], t.exp_avg[i], t.exp_avg_sq[i], t.scalars);
}

template <typename T>
void launch_adamw(const Launch<T>& launch) {
  const int64_t blocks = launch.first_block[launch.count];
  if (blocks == 0) return;
  adamw_kernel<<<unsigned(blocks), kThreads, 0, stream()>>>(launch);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

template <typename T>
void adamw_step(Cuda, const AdamWTensor<T>* tensors, int64_t count) {
  Launch<T> launch;
  launch.count = 0;
  launch.first_block[0] = 0;
  for (int64_t k = 0; k < count; ++k) {
    if (tensors[k].n == 0) continue;
    const int c = launch.count++;
    launch.tensors[c] = tensors[k];
    launch.first_block[c + 1] = launch.first_block[c] + (tensors[k].n + kChunk - 1) / kChunk;
    if (launch.count == kTensorsPerLaunch) {
      launch_adamw(launch);
      launch.count = 0;
    }
  }
  if (launch.count > 0) launch_adamw(launch);
}

template void adamw_step(Cuda, const AdamWTensor<float>*, int64_t);
template void adamw_step(Cuda, const AdamWTensor<double>*, int64_t);

}  // namespace neat::cuda
