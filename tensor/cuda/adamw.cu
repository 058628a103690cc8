// CUDA kernel of one AdamW step over many parameters (tensor/cuda/adamw.h): one launch updates
// every element of every parameter (PyTorch's fused multi_tensor_apply, llm.c's adamw.cuh).
//   each parameter: p, g, m, v [n];  per element (tensor/adamw_update.h):
//   p <- p decay;  m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
//   p <- p - step_size m / (sqrt(v) / bias_correction2_sqrt + eps)
//
// The parameters' pointers, sizes and scalars go to the GPU as a table in device memory
// (tensor/cuda/multi_tensor.cuh: a queued copy from pinned memory, no wait), so the launch has
// no limit on the number of parameters (the 4 KiB kernel argument held 32). Each parameter is
// cut into chunks of kMultiTensorChunk elements, one block a chunk; a block finds its parameter
// by a binary search of the running chunk counts. Every element is updated by one thread with
// the same formula, so the result does not depend on the launch shape and equals the CPU's.
#include "tensor/cuda/adamw.h"
#include "tensor/cuda/multi_tensor.cuh"
#include "tensor/cuda/runtime.cuh"

namespace neat::cuda {

namespace {

template <typename T>
struct AdamWEntry {
  AdamWTensor<T> tensor;
  int64_t first_chunk;   // this parameter's chunks are [first_chunk, first_chunk + chunks(n))
};

template <typename T>
__global__ void adamw_kernel(const AdamWEntry<T>* entries, int64_t count) {
  const int64_t chunk = blockIdx.x;
  const AdamWEntry<T>& e = entries[entry_of_chunk(entries, count, chunk)];
  const AdamWTensor<T> t = e.tensor;
  const int64_t begin = (chunk - e.first_chunk) * kMultiTensorChunk;
  const int64_t end = begin + kMultiTensorChunk < t.n ? begin + kMultiTensorChunk : t.n;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
    adamw_update(t.param[i], t.grad[i], t.exp_avg[i], t.exp_avg_sq[i], t.scalars);
}

}  // namespace

template <typename T>
void adamw_step(Cuda, const AdamWTensor<T>* tensors, int64_t count) {
  std::vector<AdamWEntry<T>> entries;
  int64_t chunks = 0;
  for (int64_t k = 0; k < count; ++k) {
    if (tensors[k].n == 0) continue;
    entries.push_back({tensors[k], chunks});
    chunks += multi_tensor_chunks(tensors[k].n);
  }
  if (chunks == 0) return;
  const DeviceTable<AdamWEntry<T>> table(entries);
  adamw_kernel<<<unsigned(chunks), kMultiTensorThreads, 0, stream()>>>(table.data(),
                                                                       int64_t(entries.size()));
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void adamw_step(Cuda, const AdamWTensor<float>*, int64_t);
template void adamw_step(Cuda, const AdamWTensor<double>*, int64_t);

}  // namespace neat::cuda
