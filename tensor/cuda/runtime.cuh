// What every .cu file uses: the one stream all kernels and copies run on, the cuBLAS handle,
// launch sizes, and the checks around every CUDA and cuBLAS call. An error names the call, the
// CUDA error string, the raw op that was running and file:line:
//
//   NEAT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
//   scale_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(x, n, alpha);
//   NEAT_CUDA_CHECK(cudaGetLastError());           // a bad launch configuration shows here
//
// Kernels run asynchronously: a fault inside one is reported by a later call (often the next
// copy to the host), which then names its own op. CUDA_LAUNCH_BLOCKING=1 makes every launch
// wait, so the error names the op that faulted; the message says so.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/cuda/cublas_library.cuh"
#include "tensor/cuda/device.h"

namespace neat::cuda {

// Every kernel and copy of this process goes to this stream, in order, so a block freed by one
// op can be handed to the next op without waiting (tensor/cuda/allocator.cu).
cudaStream_t stream();
// The cuBLAS handle, bound to stream(); its math mode follows cuda_set_allow_tf32.
cublasHandle_t cublas();

[[noreturn]] void fail(const char* call, const char* error, const char* file, int line);

// Threads per block for the elementwise and row kernels, and the blocks to cover n elements
// with grid-stride loops (capped: a loop covers the rest).
constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return unsigned(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

}  // namespace neat::cuda

#define NEAT_CUDA_CHECK(call)                                                                   \
  do {                                                                                          \
    const cudaError_t neat_cuda_error = (call);                                                 \
    if (neat_cuda_error != cudaSuccess)                                                         \
      ::neat::cuda::fail(#call, cudaGetErrorString(neat_cuda_error), __FILE__, __LINE__);       \
  } while (0)

#define NEAT_CUBLAS_CHECK(call)                                                                 \
  do {                                                                                          \
    const cublasStatus_t neat_cublas_status = (call);                                           \
    if (neat_cublas_status != CUBLAS_STATUS_SUCCESS)                                            \
      ::neat::cuda::fail(#call, ::neat::cuda::cublas_library().status_string(neat_cublas_status), \
                         __FILE__, __LINE__);                                                   \
  } while (0)
