// CUDA kernels of the global norm and its clip over many tensors (tensor/cuda/grad_norm.h), one
// multi-tensor launch each (tensor/multi_tensor.h, tensor/cuda/multi_tensor.cuh):
//   x[k] [n[k]] for k < count;  partial [chunks];  total, norm: one double each
//   squared_norm_chunks:  partial[c] = sum of x^2 over chunk c, in M = math_t<T>
//   add_chunk_partials:   *total += sum_c partial[c], in double
//   scale_chunks:         x *= coef = max_norm / (*norm + 1e-6) when coef < 1, in M
//
// What this replaces: per gradient a two-kernel sum of squares with its scratch buffer, the norm
// read on the host, then per gradient a scale_ launch. Now: the table copy, one partial-sum
// launch over every chunk of every tensor, one single-block launch that adds the partials (the
// sqrt is tensor/grad_norm.cpp's sqrt op), and one scale launch that reads the norm on the GPU.
//
// Determinism: a chunk's sum has a fixed order (thread t takes elements t, t + 256, ... with
// fused multiply-adds, then block_sum's shuffle tree), its partial lands at its chunk's index,
// and one block adds the partials in a fixed order: the result depends on neither the GPU nor
// the launch, and tensor/cpu/grad_norm.h's chunked_squared_norm reproduces it bit for bit.
// float32 and bfloat16 accumulate in float within a chunk (4096 elements: 16 a thread, then 8
// levels of tree), partials and their sum in double; float64 in double throughout.
#include "tensor/cuda/grad_norm.h"
#include "tensor/cuda/multi_tensor.cuh"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/warp_reduce.cuh"
#include "tensor/elementwise_ops.h"

namespace neat::cuda {

namespace {

template <typename T>
struct ChunkEntry {
  T* x;
  int64_t n;
  int64_t first_chunk;   // this tensor's chunks are [first_chunk, first_chunk + chunks(n))
};

// The table of the non-empty tensors; chunks: how many chunks they have together.
template <typename T>
std::vector<ChunkEntry<T>> chunk_table(T* const* x, const int64_t* n, int64_t count, int64_t& chunks) {
  std::vector<ChunkEntry<T>> entries;
  chunks = 0;
  for (int64_t k = 0; k < count; ++k) {
    if (n[k] == 0) continue;
    entries.push_back({x[k], n[k], chunks});
    chunks += multi_tensor_chunks(n[k]);
  }
  return entries;
}

// This block's chunk: [begin, end) of entry e's tensor.
template <typename Entry>
__device__ inline const Entry& chunk_range(const Entry* entries, int64_t count, int64_t& begin,
                                           int64_t& end) {
  const int64_t chunk = blockIdx.x;
  const Entry& e = entries[entry_of_chunk(entries, count, chunk)];
  begin = (chunk - e.first_chunk) * kMultiTensorChunk;
  end = begin + kMultiTensorChunk < e.n ? begin + kMultiTensorChunk : e.n;
  return e;
}

template <typename T>
__global__ void squared_norm_chunks(const ChunkEntry<const T>* entries, int64_t count, double* partial) {
  using M = math_t<T>;
  int64_t begin, end;
  const ChunkEntry<const T>& e = chunk_range(entries, count, begin, end);
  M sum = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += kMultiTensorThreads) sum = square_add(sum, M(e.x[i]));
  sum = block_sum(sum);
  if (threadIdx.x == 0) partial[blockIdx.x] = double(sum);
}

// One block of kMultiTensorThreads.
__global__ void add_chunk_partials(const double* partial, int64_t chunks, double* total) {
  double sum = 0;
  for (int64_t i = threadIdx.x; i < chunks; i += kMultiTensorThreads) sum += partial[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) *total += sum;
}

template <typename T>
__global__ void scale_chunks(const ChunkEntry<T>* entries, int64_t count, const double* norm,
                             double max_norm) {
  using M = math_t<T>;
  const double coef = max_norm / (*norm + 1e-6);
  if (!(coef < 1.0)) return;
  const WithScalar<ScalarOp::Mul, M> scale{M(coef)};   // scale_'s formula (tensor/cpu/elementwise.h)
  int64_t begin, end;
  const ChunkEntry<T>& e = chunk_range(entries, count, begin, end);
  for (int64_t i = begin + threadIdx.x; i < end; i += kMultiTensorThreads) e.x[i] = T(scale(M(e.x[i])));
}

}  // namespace

template <typename T>
void add_squared_norms(Cuda, const T* const* x, const int64_t* n, int64_t count, double* total) {
  int64_t chunks = 0;
  const std::vector<ChunkEntry<const T>> entries = chunk_table(x, n, count, chunks);
  if (chunks == 0) return;
  const DeviceTable<ChunkEntry<const T>> table(entries);
  Scratch<double> partial(chunks);
  squared_norm_chunks<<<unsigned(chunks), kMultiTensorThreads, 0, stream()>>>(
      table.data(), int64_t(entries.size()), partial.data());
  NEAT_CUDA_CHECK(cudaGetLastError());
  add_chunk_partials<<<1, kMultiTensorThreads, 0, stream()>>>(partial.data(), chunks, total);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template <typename T>
void scale_to_norm(Cuda, T* const* x, const int64_t* n, int64_t count, const double* norm,
                   double max_norm) {
  int64_t chunks = 0;
  const std::vector<ChunkEntry<T>> entries = chunk_table(x, n, count, chunks);
  if (chunks == 0) return;
  const DeviceTable<ChunkEntry<T>> table(entries);
  scale_chunks<<<unsigned(chunks), kMultiTensorThreads, 0, stream()>>>(
      table.data(), int64_t(entries.size()), norm, max_norm);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

template void add_squared_norms(Cuda, const float* const*, const int64_t*, int64_t, double*);
template void add_squared_norms(Cuda, const double* const*, const int64_t*, int64_t, double*);
template void add_squared_norms(Cuda, const bfloat16* const*, const int64_t*, int64_t, double*);
template void scale_to_norm(Cuda, float* const*, const int64_t*, int64_t, const double*, double);
template void scale_to_norm(Cuda, double* const*, const int64_t*, int64_t, const double*, double);
template void scale_to_norm(Cuda, bfloat16* const*, const int64_t*, int64_t, const double*, double);

}  // namespace neat::cuda
