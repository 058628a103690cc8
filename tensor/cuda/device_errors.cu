// CUDA kernels of the value checks of tensor/device_errors.h (tensor/cuda/device_errors.h):
//   index [count] int64: the first value outside [0, size)  -> (position, value)
//   x [count] double:    the first value neither 0 nor 1    -> (position, the double's bits)
// Each is one block: every thread finds the first bad position among its strided share, the
// block takes the smallest (block_min) and thread 0 records it, unless the record already
// holds an earlier failure (kernels run in stream order, so "earlier" is the host's order).
// No host wait: the record is read by take_error_record, when tensor/device_errors.cpp asks.
#include "tensor/check.h"
#include "tensor/cuda/device_errors.h"
#include "tensor/cuda/runtime.cuh"
#include "tensor/cuda/warp_reduce.cuh"

namespace neat::cuda {

namespace {

__global__ void out_of_range_kernel(const int64_t* index, int64_t count, int64_t size,
                                    ErrorSlot slot) {
  int64_t mine = count;   // "none"
  for (int64_t i = threadIdx.x; i < count && mine == count; i += blockDim.x)
    if (index[i] < 0 || index[i] >= size) mine = i;
  const int64_t first = block_min(mine, count);
  if (threadIdx.x == 0 && first < count) record_error(slot, first, index[first]);
}

__global__ void not_binary_kernel(const double* x, int64_t count, ErrorSlot slot) {
  int64_t mine = count;
  for (int64_t i = threadIdx.x; i < count && mine == count; i += blockDim.x)
    if (x[i] != 0 && x[i] != 1) mine = i;
  const int64_t first = block_min(mine, count);
  if (threadIdx.x == 0 && first < count)
    record_error(slot, first, int64_t(__double_as_longlong(x[first])));
}

// Made once and kept for the process (a few bytes outside the caching allocator, so that no
// tensor's lifetime, nor the allocator's own destruction at exit, concerns it).
int64_t* record_memory() {
  static int64_t* record = [] {
    int64_t* r = nullptr;
    NEAT_CUDA_CHECK(cudaMalloc(&r, 3 * sizeof(int64_t)));
    NEAT_CUDA_CHECK(cudaMemsetAsync(r, 0xff, 3 * sizeof(int64_t), stream()));   // all -1
    return r;
  }();
  return record;
}

}  // namespace

int64_t* error_record(Cuda) { return record_memory(); }

void take_error_record(Cuda, int64_t* out) {
  int64_t* record = record_memory();
  NEAT_CUDA_CHECK(cudaMemcpyAsync(out, record, 3 * sizeof(int64_t), cudaMemcpyDeviceToHost, stream()));
  NEAT_CUDA_CHECK(cudaStreamSynchronize(stream()));
  if (out[0] >= 0)
    NEAT_CUDA_CHECK(cudaMemsetAsync(record, 0xff, 3 * sizeof(int64_t), stream()));
}

void record_out_of_range(Cuda, const int64_t* index, int64_t count, int64_t size, ErrorSlot slot) {
  if (count == 0) return;
  out_of_range_kernel<<<1, kThreads, 0, stream()>>>(index, count, size, slot);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

void record_not_binary(Cuda, const double* x, int64_t count, ErrorSlot slot) {
  if (count == 0) return;
  not_binary_kernel<<<1, kThreads, 0, stream()>>>(x, count, slot);
  NEAT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace neat::cuda
