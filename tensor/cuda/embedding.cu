// CUDA kernel of the embedding table's gradient with padding_idx (tensor/cuda/embedding.h), the
// math of tensor/cpu/embedding.h:
//   dy [count, D], ids [count] int64 -> dweight [V, D]
//   dweight[ids[i]] += dy[i]  for every i with ids[i] != padding_idx   (-1: none)
// The ids are checked first (record_out_of_range, tensor/cuda/device_errors.h); an id outside the
// table is then skipped, and the result thrown away with the error.
//
// Without atomics, as index_add (tensor/cuda/shape_ops.cu): one thread owns one column j of
// dweight and walks the ids in order, so a repeated id sums in the CPU's order (deterministic
// run to run) and no two threads touch one element. D columns (384-1024 for the text models)
// are few threads, but the op runs once per step on the word, position and type tables.
#include "tensor/cuda/embedding.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/device_errors.h"

namespace neat::cuda {

namespace {

template <typename T>
__global__ void embedding_backward_columns(T* dweight, const T* dy, const int64_t* ids,
                                           int64_t count, int64_t rows, int64_t dim,
                                           int64_t padding_idx) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < dim; j += int64_t(gridDim.x) * blockDim.x)
    for (int64_t i = 0; i < count; ++i) {
      const int64_t row = ids[i];
      if (row != padding_idx && row >= 0 && row < rows) dweight[row * dim + j] += dy[i * dim + j];
    }
}

}  // namespace

template <typename T>
void embedding_backward(Cuda, T* dweight, const T* dy, const int64_t* ids, ErrorSlot check,
                        int64_t count, int64_t rows, int64_t dim, int64_t padding_idx) {
  record_out_of_range(Cuda{}, ids, count, rows, check);
  if (count == 0 || dim == 0) return;
  embedding_backward_columns<<<blocks_for(dim), kThreads, 0, stream()>>>(dweight, dy, ids, count,
                                                                         rows, dim, padding_idx);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void embedding_backward(Cuda, float*, const float*, const int64_t*, ErrorSlot, int64_t,
                                 int64_t, int64_t, int64_t);
template void embedding_backward(Cuda, double*, const double*, const int64_t*, ErrorSlot, int64_t,
                                 int64_t, int64_t, int64_t);

}  // namespace neat::cuda
